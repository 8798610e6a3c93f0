/**
 * What nbopt's commands insert, and how they ask the kernel which Keras models it holds.
 * Pure functions, so they are tested without JupyterLab.
 */

/** One of nbopt's "insert a magic cell" commands. */
export interface IMagicCommand {
  /** The command's id in JupyterLab's registry. */
  id: string;
  /** The label in the palette and menus. */
  label: string;
  /** The caption (tooltip). */
  caption: string;
  /** The magic cell's source for a model variable name. */
  template: (model: string) => string;
}

/** The commands, in menu order. */
export const MAGIC_COMMANDS: IMagicCommand[] = [
  {
    id: 'nbopt:insert-quantize',
    label: 'Quantize a model…',
    caption: 'Insert a %quantize cell comparing float16, dynamic-range and int8 quantization',
    template: m =>
      `%quantize ${m} --scheme float16,dynamic,int8 --calib x_train[:256] --eval x_test,y_test`
  },
  {
    id: 'nbopt:insert-prune',
    label: 'Prune a model…',
    caption: 'Insert a %prune cell: 80% sparsity, fine-tuned for 2 epochs',
    template: m =>
      `%prune ${m} --sparsity 0.8 --fit x_train,y_train --epochs 2 --eval x_test,y_test`
  },
  {
    id: 'nbopt:insert-cluster',
    label: 'Cluster a model…',
    caption: 'Insert a %cluster cell: 16 weight clusters, fine-tuned for 1 epoch',
    template: m =>
      `%cluster ${m} --clusters 16 --fit x_train,y_train --epochs 1 --eval x_test,y_test`
  },
  {
    id: 'nbopt:insert-panel',
    label: 'Open the nbopt panel',
    caption: "Insert a cell that opens nbopt's interactive panel for a model",
    template: m => `%nbopt panel ${m}`
  }
];

/** The model name inserted when the kernel has no Keras model (or cannot be asked). */
export const PLACEHOLDER_MODEL = 'model';

/**
 * A Python expression, evaluated as a `user_expressions` entry, whose value is the names
 * (space-separated, sorted) of the user's variables that are Keras models: instances of a
 * class whose MRO holds a class named `Model` from module root `keras` or `tf_keras`.
 */
export const MODELS_EXPRESSION =
  "' '.join(sorted(k for k, v in list(get_ipython().user_ns.items()) " +
  "if not k.startswith('_') and any(c.__name__ == 'Model' and " +
  "c.__module__.split('.')[0] in ('keras', 'tf_keras') " +
  "for c in getattr(type(v), '__mro__', ()))))";

/** A Python expression: `True` if nbopt's magics are loaded in the kernel. */
export const LOADED_EXPRESSION = "'quantize' in get_ipython().magics_manager.magics['line']";

/** What the kernel told about itself. */
export interface IKernelModels {
  /** Names of the Keras models in the user namespace. */
  models: string[];
  /** True if `%load_ext nbopt` has run. */
  loaded: boolean;
}

function plainText(entry: unknown): string | null {
  if (typeof entry !== 'object' || entry === null) {
    return null;
  }
  const e = entry as { status?: unknown; data?: unknown };
  if (e.status !== 'ok' || typeof e.data !== 'object' || e.data === null) {
    return null;
  }
  const value = (e.data as { [mime: string]: unknown })['text/plain'];
  return typeof value === 'string' ? value : null;
}

/**
 * Read the kernel's answer to {@link MODELS_EXPRESSION} and {@link LOADED_EXPRESSION}.
 *
 * @param userExpressions - the `user_expressions` of an execute reply.
 * @returns the models and whether nbopt is loaded, or `null` if the answer is unusable.
 */
export function parseKernelModels(userExpressions: unknown): IKernelModels | null {
  if (typeof userExpressions !== 'object' || userExpressions === null) {
    return null;
  }
  const answer = userExpressions as { [name: string]: unknown };
  const models = plainText(answer.models);
  if (models === null) {
    return null;
  }
  const names = models
    .replace(/^(['"])(.*)\1$/s, '$2')
    .split(' ')
    .filter(name => /^[\p{L}_][\p{L}\p{N}_]*$/u.test(name));
  return { models: names, loaded: plainText(answer.loaded) === 'True' };
}

/**
 * The source of the cell a command inserts.
 *
 * @param command - the command.
 * @param model - the model's variable name.
 * @param loaded - false to start the cell with `%load_ext nbopt`.
 */
export function cellSource(command: IMagicCommand, model: string, loaded: boolean): string {
  const magic = command.template(model);
  return loaded ? magic : `%load_ext nbopt\n${magic}`;
}
