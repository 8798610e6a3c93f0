/**
 * The MIME extension JupyterLab loads (`jupyterlab.mimeExtension` in package.json).
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { rendererFactory } from './renderer';

/** Registers the renderer of `application/vnd.nbopt.comparison+json`. */
const extension: IRenderMime.IExtension = {
  id: 'nbopt:comparison-renderer',
  description: 'Renders nbopt comparisons as a sortable table and a size-against-metric chart.',
  rendererFactory,
  rank: 20,
  dataType: 'json'
};

export default extension;
