// A table that scrolls sideways must be reachable by keyboard: while its wrapper overflows it is
// a focusable, named region (arrow keys then scroll it); while everything fits it is a plain box,
// so it adds no stop to the tab order.

import type { Action } from 'svelte/action';

export const scrollRegion: Action<HTMLElement, string> = (node, label) => {
  let name = label;
  function update() {
    if (node.scrollWidth > node.clientWidth + 1) {
      node.setAttribute('tabindex', '0');
      node.setAttribute('role', 'region');
      node.setAttribute('aria-label', name);
    } else {
      node.removeAttribute('tabindex');
      node.removeAttribute('role');
      node.removeAttribute('aria-label');
    }
  }
  const ro = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(update);
  ro?.observe(node);
  if (node.firstElementChild) ro?.observe(node.firstElementChild);
  update();
  return {
    update(l: string) {
      name = l;
      update();
    },
    destroy() {
      ro?.disconnect();
    },
  };
};
