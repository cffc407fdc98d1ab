// Small DOM helpers: elements are built with h(), never from HTML strings,
// so data shown from the server can never become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value') el.value = value;
    else if (key === 'checked') el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function toast(message, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const item = h('div', { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

export function errorText(err) {
  if (err && err.code) return `${err.message} (code ${err.code})`;
  return (err && err.message) || String(err);
}

// A modal dialog; resolves with the value of the button pressed (or null).
export function dialog(title, body, buttons = [['Cancel', null], ['OK', true]]) {
  return new Promise((resolve) => {
    const overlay = h('div', { class: 'overlay' });
    const close = (value) => { overlay.remove(); resolve(value); };
    const box = h('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-label': title },
      h('h2', {}, title), h('div', { class: 'dialog-body' }, body),
      h('div', { class: 'dialog-buttons' }, buttons.map(([label, value], i) =>
        h('button', { type: 'button', class: i === buttons.length - 1 ? 'primary' : '',
                      onclick: () => close(typeof value === 'function' ? value() : value) }, label))));
    overlay.addEventListener('keydown', (event) => { if (event.key === 'Escape') close(null); });
    overlay.append(box);
    document.body.append(overlay);
    const focus = box.querySelector('input, textarea, select') || box.querySelector('button.primary');
    if (focus) focus.focus();
  });
}

export const confirm = (title, text, label = 'Delete') =>
  dialog(title, h('p', {}, text), [['Cancel', false], [label, true]]);

export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input,
    hint ? h('small', {}, hint) : null);
}

export function parseJson(text, what = 'value') {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`The ${what} is not valid JSON: ${err.message}`);
  }
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

export function formatDate(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function spinner() {
  return h('div', { class: 'spinner', 'aria-label': 'Loading' });
}
