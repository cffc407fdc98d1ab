// The schema editor: fields (type, required, default), CLPs with
// protectedFields, indexes; the ER diagram and the data dictionary.
import { api } from './api.js';
import { loadSchemas } from './data.js';
import { drawDiagram, mermaid } from './diagram.js';
import { clear, confirm, errorText, field, h, parseJson, pretty, toast } from './ui.js';

const TYPES = ['String', 'Number', 'Boolean', 'Date', 'Object', 'Array', 'GeoPoint', 'File', 'Bytes', 'Polygon',
               'Pointer', 'Relation'];
const BUILT_IN = new Set(['objectId', 'createdAt', 'updatedAt', 'ACL']);

export async function renderSchema(main, args, alive) {
  if (api.mode !== 'master') {
    clear(main, h('p', { class: 'notice' }, 'The schema API needs the master key: sign in with it to edit schemas.'));
    return;
  }
  const schemas = await loadSchemas();
  if (!alive()) return;
  const current = args[0] || '';
  const side = h('aside', { class: 'side' }, h('h2', {}, 'Schema'),
    h('ul', { class: 'class-list' },
      h('li', {}, h('a', { href: '#/schema', class: current ? '' : 'active' }, 'Diagram & dictionary')),
      schemas.map((s) => h('li', {}, h('a', { href: `#/schema/${encodeURIComponent(s.className)}`,
                                              class: s.className === current ? 'active' : '' }, s.className)))),
    addClassForm());
  const content = h('section', { class: 'content' });
  clear(main, h('div', { class: 'split' }, side, content));
  const schema = schemas.find((s) => s.className === current);
  if (schema) showClass(content, schema);
  else showOverview(content, schemas);
}

function addClassForm() {
  const name = h('input', { type: 'text', placeholder: 'NewClass', 'aria-label': 'New class name', id: 'new-class' });
  return h('form', { onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api.post(`/schemas/${encodeURIComponent(name.value)}`, { className: name.value });
      toast(`Class ${name.value} created`);
      location.hash = `#/schema/${encodeURIComponent(name.value)}`;
    } catch (err) {
      toast(errorText(err), 'error');
    }
  } }, name, h('button', { type: 'submit' }, '+ Class'));
}

function showOverview(content, schemas) {
  const text = mermaid(schemas);
  clear(content, h('h1', {}, 'ER diagram'),
    h('div', { class: 'diagram', id: 'er-diagram' }, drawDiagram(schemas)),
    h('details', {}, h('summary', {}, 'Mermaid source (as bapp schema docs writes it)'),
      h('pre', { id: 'mermaid-source' }, text),
      h('button', { type: 'button', onclick: async () => {
        await navigator.clipboard.writeText(text);
        toast('Copied');
      } }, 'Copy')),
    h('h1', {}, 'Data dictionary'),
    schemas.map((schema) => dictionary(schema)));
}

function typeLabel(spec) {
  return spec.targetClass ? `${spec.type}<${spec.targetClass}>` : spec.type;
}

function dictionary(schema) {
  const rows = Object.entries(schema.fields || {}).map(([name, spec]) => h('tr', {},
    h('td', {}, name), h('td', {}, typeLabel(spec)),
    h('td', {}, BUILT_IN.has(name) ? 'auto' : spec.required ? 'yes' : 'no'),
    h('td', {}, spec.defaultValue === undefined ? '' : JSON.stringify(spec.defaultValue))));
  return h('section', { class: 'dictionary' }, h('h3', {}, schema.className),
    h('table', { class: 'grid compact' },
      h('thead', {}, h('tr', {}, ['Field', 'Type', 'Required', 'Default'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows)),
    h('p', { class: 'muted' }, `${rows.length} fields in ${schema.className}`));
}

async function update(className, body, message) {
  try {
    await api.put(`/schemas/${encodeURIComponent(className)}`, { className, ...body });
    toast(message);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    return true;
  } catch (err) {
    toast(errorText(err), 'error');
    return false;
  }
}

function showClass(content, schema) {
  const className = schema.className;
  const fieldRows = Object.entries(schema.fields).map(([name, spec]) => h('tr', { dataset: { field: name } },
    h('td', {}, name), h('td', {}, typeLabel(spec)), h('td', {}, spec.required ? 'yes' : ''),
    h('td', {}, spec.defaultValue === undefined ? '' : JSON.stringify(spec.defaultValue)),
    h('td', {}, BUILT_IN.has(name) ? '' : h('button', { type: 'button', class: 'link danger', onclick: async () => {
      if (await confirm('Delete field', `Delete ${className}.${name} and its data in every object?`)) {
        await update(className, { fields: { [name]: { __op: 'Delete' } } }, `${name} deleted`);
      }
    } }, 'Delete'))));
  const clp = h('textarea', { class: 'json', rows: 14, id: 'clp-editor', 'aria-label': 'Class-level permissions',
                              value: pretty(schema.classLevelPermissions || {}) });
  const indexRows = Object.entries(schema.indexes || {}).map(([name, spec]) => h('tr', {},
    h('td', {}, name), h('td', {}, h('code', {}, JSON.stringify(spec))),
    h('td', {}, name === '_id_' ? '' : h('button', { type: 'button', class: 'link danger', onclick: async () => {
      if (await confirm('Drop index', `Drop index ${name}?`)) {
        await update(className, { indexes: { [name]: { __op: 'Delete' } } }, `Index ${name} dropped`);
      }
    } }, 'Drop'))));
  const indexName = h('input', { type: 'text', placeholder: 'name_1', 'aria-label': 'Index name' });
  const indexSpec = h('input', { type: 'text', placeholder: '{"name": 1}', 'aria-label': 'Index keys' });
  clear(content,
    h('div', { class: 'toolbar' }, h('h1', {}, className),
      h('a', { class: 'button', href: `#/data/${encodeURIComponent(className)}` }, 'Browse data'),
      className.startsWith('_') ? null : h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!(await confirm('Delete class', `Delete the class ${className}? It must be empty.`))) return;
        try {
          await api.del(`/schemas/${encodeURIComponent(className)}`);
          toast(`${className} deleted`);
          location.hash = '#/schema';
        } catch (err) { toast(errorText(err), 'error'); }
      } }, 'Delete class')),
    h('h2', {}, 'Fields'),
    h('table', { class: 'grid compact', id: 'fields' },
      h('thead', {}, h('tr', {}, ['Field', 'Type', 'Required', 'Default', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, fieldRows)),
    addFieldForm(className),
    h('h2', {}, 'Class-level permissions and protected fields'),
    h('p', { class: 'muted' }, 'Operations: find, get, count, create, update, delete, addField; each maps "*", "requiresAuthentication", "role:<name>", user ids or pointer fields to true. protectedFields maps the same keys to hidden fields.'),
    clp,
    h('button', { type: 'button', id: 'save-clp', class: 'primary', onclick: async () => {
      let value;
      try { value = parseJson(clp.value, 'permissions object'); } catch (err) { toast(err.message, 'error'); return; }
      await update(className, { classLevelPermissions: value }, 'Permissions saved');
    } }, 'Save permissions'),
    h('h2', {}, 'Indexes'),
    h('table', { class: 'grid compact', id: 'indexes' }, h('tbody', {}, indexRows)),
    h('form', { class: 'inline', onsubmit: async (event) => {
      event.preventDefault();
      let spec;
      try { spec = parseJson(indexSpec.value, 'index keys'); } catch (err) { toast(err.message, 'error'); return; }
      await update(className, { indexes: { [indexName.value]: spec } }, `Index ${indexName.value} created`);
    } }, indexName, indexSpec, h('button', { type: 'submit' }, '+ Index')),
    dictionary(schema));
}

function addFieldForm(className) {
  const name = h('input', { type: 'text', name: 'fieldName', required: true, placeholder: 'fieldName' });
  const type = h('select', { name: 'fieldType' }, TYPES.map((t) => h('option', { value: t }, t)));
  const target = h('input', { type: 'text', name: 'targetClass', placeholder: 'Target class' });
  const required = h('input', { type: 'checkbox', name: 'required' });
  const defaultValue = h('input', { type: 'text', name: 'defaultValue', placeholder: 'JSON, e.g. 0 or "text"' });
  const targetField = field('Target class', target);
  const sync = () => { targetField.hidden = !['Pointer', 'Relation'].includes(type.value); };
  type.addEventListener('change', sync);
  sync();
  return h('form', { class: 'add-field', id: 'add-field', onsubmit: async (event) => {
    event.preventDefault();
    const spec = { type: type.value };
    if (!targetField.hidden) spec.targetClass = target.value;
    if (required.checked) spec.required = true;
    if (defaultValue.value.trim()) {
      try {
        spec.defaultValue = parseJson(defaultValue.value, 'default value');
      } catch (err) {
        spec.defaultValue = defaultValue.value;  // plain text for a String default
      }
    }
    await update(className, { fields: { [name.value]: spec } }, `Field ${name.value} added`);
  } }, h('h3', {}, 'Add a field'), field('Name', name), field('Type', type), targetField,
  field('Default', defaultValue), h('label', { class: 'check-label' }, required, ' required'),
  h('button', { type: 'submit', class: 'primary' }, 'Add field'));
}
