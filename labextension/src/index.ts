/**
 * nbopt's JupyterLab plugin: commands that insert nbopt magic cells for a Keras model of the
 * running kernel, in the command palette and the notebook's context menu.
 *
 * The comparison renderer is the package's MIME extension (`mime.ts`).
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Menu } from '@lumino/widgets';

import {
  cellSource,
  IKernelModels,
  IMagicCommand,
  LOADED_EXPRESSION,
  MAGIC_COMMANDS,
  MODELS_EXPRESSION,
  parseKernelModels,
  PLACEHOLDER_MODEL
} from './commands';

/** How long the kernel may take to list its models before the command goes on without. */
const KERNEL_TIMEOUT_MS = 5000;

/**
 * Ask the notebook's kernel, quietly, which Keras models it holds.
 *
 * @param panel - the notebook.
 * @returns the answer, or `null` with no kernel, a busy kernel or a non-Python kernel.
 */
export async function askKernel(panel: NotebookPanel): Promise<IKernelModels | null> {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    return null;
  }
  const future = kernel.requestExecute({
    code: '',
    silent: true,
    store_history: false,
    user_expressions: { models: MODELS_EXPRESSION, loaded: LOADED_EXPRESSION }
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>(resolve => {
    timer = setTimeout(() => resolve(null), KERNEL_TIMEOUT_MS);
  });
  try {
    const reply = await Promise.race([future.done, timeout]);
    if (!reply || reply.content.status !== 'ok') {
      return null;
    }
    return parseKernelModels(reply.content.user_expressions);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    if (!future.isDisposed) {
      future.dispose();
    }
  }
}

async function chooseModel(
  command: IMagicCommand,
  answer: IKernelModels | null
): Promise<string | null> {
  const models = answer?.models ?? [];
  if (models.length === 1) {
    return models[0];
  }
  if (models.length === 0) {
    Notification.info(
      answer
        ? `nbopt: no Keras model in the kernel yet; the cell names "${PLACEHOLDER_MODEL}", edit it.`
        : `nbopt: could not ask the kernel for its models; the cell names "${PLACEHOLDER_MODEL}", edit it.`,
      { autoClose: 5000 }
    );
    return PLACEHOLDER_MODEL;
  }
  const result = await InputDialog.getItem({
    title: command.label.replace('…', ''),
    label: 'Keras model in the kernel',
    items: models,
    current: 0
  });
  return result.button.accept ? result.value : null;
}

async function insertMagic(
  tracker: INotebookTracker,
  command: IMagicCommand,
  model: string | undefined
): Promise<void> {
  const panel = tracker.currentWidget;
  if (!panel) {
    return;
  }
  const answer = await askKernel(panel);
  const name = model ?? (await chooseModel(command, answer));
  if (name === null) {
    return;
  }
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  const cell = notebook.activeCell;
  if (cell) {
    cell.model.sharedModel.setSource(cellSource(command, name, answer?.loaded ?? true));
    notebook.mode = 'edit';
  }
}

/** The commands plugin. */
const commandsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'nbopt:commands',
  description: 'Commands that insert nbopt magic cells for a Keras model of the kernel.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, palette: ICommandPalette | null) => {
    const submenu = new Menu({ commands: app.commands });
    submenu.title.label = 'nbopt';
    for (const command of MAGIC_COMMANDS) {
      app.commands.addCommand(command.id, {
        label: command.label,
        caption: command.caption,
        isEnabled: () => tracker.currentWidget !== null,
        execute: args =>
          insertMagic(tracker, command, typeof args.model === 'string' ? args.model : undefined)
      });
      palette?.addItem({ command: command.id, category: 'nbopt' });
      submenu.addItem({ command: command.id });
    }
    app.contextMenu.addItem({ type: 'submenu', submenu, selector: '.jp-Notebook', rank: 20 });
  }
};

export default [commandsPlugin];
