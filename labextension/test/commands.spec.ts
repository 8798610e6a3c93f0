import {
  cellSource,
  LOADED_EXPRESSION,
  MAGIC_COMMANDS,
  MODELS_EXPRESSION,
  parseKernelModels
} from '../src/commands';

function command(id: string) {
  return MAGIC_COMMANDS.find(c => c.id === id)!;
}

describe('the inserted magic cells', () => {
  it('has the four commands with their palette labels', () => {
    expect(MAGIC_COMMANDS.map(c => c.label)).toEqual([
      'Quantize a model…',
      'Prune a model…',
      'Cluster a model…',
      'Open the nbopt panel'
    ]);
  });

  it('writes each magic for the chosen model', () => {
    expect(cellSource(command('nbopt:insert-quantize'), 'cnn', true)).toBe(
      '%quantize cnn --scheme float16,dynamic,int8 --calib x_train[:256] --eval x_test,y_test'
    );
    expect(cellSource(command('nbopt:insert-prune'), 'cnn', true)).toBe(
      '%prune cnn --sparsity 0.8 --fit x_train,y_train --epochs 2 --eval x_test,y_test'
    );
    expect(cellSource(command('nbopt:insert-cluster'), 'cnn', true)).toBe(
      '%cluster cnn --clusters 16 --fit x_train,y_train --epochs 1 --eval x_test,y_test'
    );
    expect(cellSource(command('nbopt:insert-panel'), 'cnn', true)).toBe('%nbopt panel cnn');
  });

  it('loads the extension first when the kernel has not', () => {
    expect(cellSource(command('nbopt:insert-panel'), 'cnn', false)).toBe(
      '%load_ext nbopt\n%nbopt panel cnn'
    );
  });
});

describe("reading the kernel's answer", () => {
  it('asks with expressions, not statements', () => {
    expect(MODELS_EXPRESSION).not.toContain('\n');
    expect(LOADED_EXPRESSION).not.toContain('\n');
  });

  it('reads model names and whether nbopt is loaded', () => {
    expect(
      parseKernelModels({
        models: { status: 'ok', data: { 'text/plain': "'cnn model_2'" }, metadata: {} },
        loaded: { status: 'ok', data: { 'text/plain': 'True' }, metadata: {} }
      })
    ).toEqual({ models: ['cnn', 'model_2'], loaded: true });
    expect(
      parseKernelModels({
        models: { status: 'ok', data: { 'text/plain': "''" }, metadata: {} },
        loaded: { status: 'error', ename: 'NameError' }
      })
    ).toEqual({ models: [], loaded: false });
  });

  it('refuses answers that are not a list of names', () => {
    expect(parseKernelModels(undefined)).toBeNull();
    expect(parseKernelModels({ models: { status: 'error' } })).toBeNull();
    expect(
      parseKernelModels({ models: { status: 'ok', data: { 'text/plain': "'a b<c d'" } } })
    ).toEqual({ models: ['a', 'd'], loaded: false });
  });
});
