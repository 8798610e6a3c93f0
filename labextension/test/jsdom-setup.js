// jsdom has no DragEvent; @lumino/dragdrop (loaded with @lumino/widgets) extends it.
if (typeof globalThis.DragEvent === 'undefined') {
  globalThis.DragEvent = class DragEvent extends MouseEvent {};
}
