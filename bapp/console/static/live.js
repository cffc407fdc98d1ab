// Live view: subscribe to a class and a where, watch LiveQuery events arrive.
import { api, LiveSubscription } from './api.js';
import { loadSchemas } from './data.js';
import { clear, h, parseJson } from './ui.js';

let subscription = null;

export function stopLive() {
  if (subscription) subscription.close();
  subscription = null;
}

export async function renderLive(main, args, alive) {
  const schemas = await loadSchemas();
  if (!alive()) return;
  const className = h('select', { id: 'live-class', 'aria-label': 'Class' },
    schemas.map((s) => h('option', { value: s.className }, s.className)));
  if (args[0]) className.value = args[0];
  const where = h('textarea', { id: 'live-where', class: 'json', rows: 3, 'aria-label': 'where', value: '{}' });
  const status = h('span', { id: 'live-status', class: 'chip' }, 'not subscribed');
  const events = h('ol', { id: 'live-events', class: 'events', reversed: true });
  const error = h('p', { class: 'error', role: 'alert' });
  const start = (event) => {
    event.preventDefault();
    error.textContent = '';
    let query;
    try { query = parseJson(where.value, 'where'); } catch (err) { error.textContent = err.message; return; }
    stopLive();
    clear(events);
    status.textContent = 'connecting…';
    subscription = new LiveSubscription(className.value, query, (op, object) => {
      const label = object.name || object.title || object.status || object.username || '';
      events.prepend(h('li', { class: `event event-${op}`, dataset: { op, id: object.objectId } },
        h('span', { class: 'op' }, op), h('code', {}, object.objectId), ` ${label}`,
        h('time', {}, new Date().toLocaleTimeString()),
        h('details', {}, h('summary', {}, 'object'), h('pre', {}, JSON.stringify(object, null, 2)))));
      while (events.children.length > 200) events.lastChild.remove();
    }, (state, message) => {
      status.textContent = state === 'error' ? `error: ${message}` : state;
      status.dataset.state = state;
    });
    subscription.open();
  };
  clear(main, h('section', { class: 'content wide' },
    h('h1', {}, 'Live view'),
    h('p', { class: 'muted' }, 'Events for objects this sign-in may read: create, update, delete, enter and leave.'),
    h('form', { class: 'live-form', onsubmit: start }, className, where,
      h('button', { type: 'submit', class: 'primary', id: 'live-start' }, 'Subscribe'),
      h('button', { type: 'button', onclick: () => { stopLive(); status.textContent = 'stopped'; } }, 'Stop'), status),
    error, events));
}
