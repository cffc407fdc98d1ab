// The Parse.Config editor (GET/PUT /config).
import { api } from './api.js';
import { clear, confirm, errorText, field, h, parseJson, pretty, toast } from './ui.js';

export async function renderConfig(main, args, alive) {
  const config = await api.get('/config');
  if (!alive()) return;
  const masterOnly = config.masterKeyOnly || {};
  const master = api.mode === 'master';
  const save = async (name, value, onlyMaster) => {
    try {
      await api.put('/config', { params: { [name]: value }, masterKeyOnly: { [name]: onlyMaster } });
      toast(`Saved ${name}`);
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    } catch (err) {
      toast(errorText(err), 'error');
    }
  };
  const rows = Object.entries(config.params || {}).sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => {
    const input = h('textarea', { class: 'json', rows: 1, 'aria-label': `Value of ${name}`, value: pretty(value), disabled: !master });
    const flag = h('input', { type: 'checkbox', 'aria-label': `${name} requires the master key`, checked: masterOnly[name], disabled: !master });
    return h('tr', { dataset: { param: name } }, h('td', {}, name), h('td', {}, input), h('td', {}, flag),
      h('td', {}, master ? [
        h('button', { type: 'button', onclick: () => {
          try { save(name, parseJson(input.value), flag.checked); } catch (err) { toast(err.message, 'error'); }
        } }, 'Save'),
        h('button', { type: 'button', class: 'link danger', onclick: async () => {
          if (await confirm('Delete parameter', `Delete ${name}?`)) {
            await save(name, { __op: 'Delete' }, false);
          }
        } }, 'Delete')] : ''));
  });
  const name = h('input', { type: 'text', id: 'param-name', required: true, placeholder: 'parameterName' });
  const value = h('textarea', { id: 'param-value', class: 'json', rows: 2, placeholder: '"text", 42, true, [..] or {..}' });
  const flag = h('input', { type: 'checkbox', id: 'param-master' });
  clear(main, h('section', { class: 'content wide' },
    h('h1', {}, 'Config'),
    rows.length ? h('table', { class: 'grid compact', id: 'config-params' },
      h('thead', {}, h('tr', {}, ['Parameter', 'Value (JSON)', 'Master key only', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows)) : h('p', { class: 'muted' }, 'No parameters.'),
    master ? h('form', { class: 'stack', id: 'add-param', onsubmit: (event) => {
      event.preventDefault();
      try { save(name.value, parseJson(value.value), flag.checked); } catch (err) { toast(err.message, 'error'); }
    } }, h('h2', {}, 'Add a parameter'), field('Name', name), field('Value (JSON)', value),
    h('label', { class: 'check-label' }, flag, ' requires the master key'),
    h('button', { type: 'submit', class: 'primary' }, 'Add')) : null));
}
