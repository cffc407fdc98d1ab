// The data browser: classes with counts, a typed table with paging, sorting
// and a filter builder, create/edit/delete and bulk delete, relations.
import { api } from './api.js';
import { OPERATORS, buildWhere, cell, editor, readEditor } from './cells.js';
import { clear, confirm, dialog, errorText, field, h, pretty, toast } from './ui.js';

const PAGE = 25;
const SYSTEM = ['objectId', 'createdAt', 'updatedAt', 'ACL'];
const state = new Map(); // per class: {skip, order, rows, related}
let opened = ['_User', '_Role'];

function stateOf(className) {
  if (!state.has(className)) state.set(className, { skip: 0, order: '-createdAt', rows: [], related: null });
  return state.get(className);
}

export async function loadSchemas() {
  if (api.mode !== 'master') {
    return opened.map((className) => ({ className, fields: {} }));
  }
  const { results } = await api.get('/schemas');
  return results.sort((a, b) => a.className.localeCompare(b.className));
}

async function countOf(className) {
  try {
    const reply = await api.get(api.classPath(className), { count: 1, limit: 0 });
    return reply.count;
  } catch (err) {
    return '–';
  }
}

export async function renderData(main, args, alive) {
  const schemas = await loadSchemas();
  if (!alive()) return;
  const className = args[0] || (schemas.find((s) => !s.className.startsWith('_')) || schemas[0] || {}).className;
  const list = h('ul', { class: 'class-list', id: 'class-list' });
  for (const schema of schemas) {
    const count = h('span', { class: 'count' }, '…');
    list.append(h('li', {}, h('a', { href: `#/data/${encodeURIComponent(schema.className)}`,
                                    class: schema.className === className ? 'active' : '' },
      h('span', { class: 'class-name' }, schema.className), count)));
    countOf(schema.className).then((n) => { count.textContent = n; });
  }
  const openInput = h('input', { type: 'text', placeholder: 'Open a class…', 'aria-label': 'Open a class' });
  const side = h('aside', { class: 'side' }, h('h2', {}, 'Classes'), list,
    h('form', { onsubmit: (event) => {
      event.preventDefault();
      const name = openInput.value.trim();
      if (name) { opened = [...new Set([...opened, name])]; location.hash = `#/data/${encodeURIComponent(name)}`; }
    } }, openInput));
  const content = h('section', { class: 'content' });
  clear(main, h('div', { class: 'split' }, side, content));
  if (!className) {
    content.append(h('p', { class: 'muted' }, 'No classes yet.'));
    return;
  }
  const schema = schemas.find((s) => s.className === className) || { className, fields: {} };
  await showClass(content, schema, args[1]);
}

function columnsOf(schema, rows) {
  const names = new Set(Object.keys(schema.fields || {}));
  for (const row of rows) Object.keys(row).forEach((key) => names.add(key));
  ['sessionToken', 'authData', 'password'].forEach((key) => names.delete(key));
  const rest = [...names].filter((n) => !SYSTEM.includes(n)).sort();
  return ['objectId', ...rest, 'createdAt', 'updatedAt', 'ACL'].filter((n) => names.has(n) || n === 'objectId');
}

function specOf(schema, name) {
  const known = (schema.fields || {})[name];
  if (known) return known;
  if (name === 'createdAt' || name === 'updatedAt') return { type: 'Date' };
  if (name === 'ACL') return { type: 'ACL' };
  return { type: 'Object' };
}

async function showClass(content, schema, focusId) {
  const className = schema.className;
  const st = stateOf(className);
  const filterRows = st.filterRows || (st.filterRows = []);
  const whereView = h('pre', { class: 'where', id: 'where-json' });
  const table = h('div', { class: 'table-wrap' });
  const pager = h('div', { class: 'pager' });
  const bulk = h('button', { type: 'button', id: 'bulk-delete', class: 'danger', disabled: true }, 'Delete selected');
  const selected = new Set();

  const currentWhere = () => {
    const where = buildWhere(filterRows, schema.fields || {});
    if (st.related) where.$relatedTo = st.related.where;
    return where;
  };

  const builder = h('div', { class: 'filters', id: 'filters' });
  const drawFilters = () => {
    clear(builder, filterRows.map((row, index) => filterRow(schema, row, () => { filterRows.splice(index, 1); drawFilters(); })),
      h('div', { class: 'filter-actions' },
        h('button', { type: 'button', id: 'add-filter', onclick: () => {
          filterRows.push({ field: Object.keys(schema.fields || {}).find((f) => !SYSTEM.includes(f)) || 'objectId', op: '$eq', value: '' });
          drawFilters();
        } }, '+ Filter'),
        h('button', { type: 'button', id: 'apply-filter', class: 'primary', onclick: () => { st.skip = 0; load(); } }, 'Apply'),
        st.related ? h('span', { class: 'chip' }, `related to ${st.related.label} `,
          h('button', { type: 'button', class: 'link', onclick: () => { st.related = null; drawFilters(); load(); } }, '×')) : null));
    whereView.textContent = 'where = ' + JSON.stringify(currentWhere());
  };
  builder.addEventListener('input', () => { whereView.textContent = 'where = ' + JSON.stringify(currentWhere()); });
  builder.addEventListener('change', () => { whereView.textContent = 'where = ' + JSON.stringify(currentWhere()); });

  const load = async () => {
    const where = currentWhere();
    whereView.textContent = 'where = ' + JSON.stringify(where);
    selected.clear();
    bulk.disabled = true;
    let reply;
    try {
      reply = await api.get(api.classPath(className), { where, limit: PAGE, skip: st.skip, order: st.order, count: 1 });
    } catch (err) {
      clear(table, h('p', { class: 'error', role: 'alert' }, errorText(err)));
      return;
    }
    st.rows = reply.results;
    drawTable(reply.results);
    const last = Math.min(st.skip + PAGE, reply.count);
    clear(pager, h('span', { id: 'page-info' }, reply.count ? `${st.skip + 1}–${last} of ${reply.count}` : 'no objects'),
      h('button', { type: 'button', disabled: st.skip === 0, onclick: () => { st.skip = Math.max(0, st.skip - PAGE); load(); } }, '‹ Prev'),
      h('button', { type: 'button', id: 'next-page', disabled: last >= reply.count, onclick: () => { st.skip += PAGE; load(); } }, 'Next ›'));
  };

  const drawTable = (rows) => {
    const columns = columnsOf(schema, rows);
    const head = h('tr', {}, h('th', { class: 'check' }, h('input', { type: 'checkbox', 'aria-label': 'Select all', onchange: (event) => {
      table.querySelectorAll('tbody input[type=checkbox]').forEach((box) => {
        box.checked = event.target.checked;
        box.dispatchEvent(new Event('change'));
      });
    } })), columns.map((name) => {
      const spec = specOf(schema, name);
      const sorted = st.order === name ? ' ▲' : st.order === '-' + name ? ' ▼' : '';
      const sortable = !['Relation', 'ACL', 'Object', 'Array'].includes(spec.type);
      return h('th', { scope: 'col', dataset: { field: name } },
        sortable ? h('button', { type: 'button', class: 'sort', onclick: () => {
          st.order = st.order === name ? '-' + name : name;
          load();
        } }, name, sorted) : name,
        h('small', { class: 'type' }, spec.type === 'Pointer' || spec.type === 'Relation' ? `${spec.type}<${spec.targetClass}>` : spec.type));
    }));
    const body = h('tbody', {}, rows.map((row) => {
      const box = h('input', { type: 'checkbox', 'aria-label': `Select ${row.objectId}`, onclick: (event) => event.stopPropagation(),
                               onchange: (event) => {
                                 if (event.target.checked) selected.add(row.objectId); else selected.delete(row.objectId);
                                 bulk.disabled = selected.size === 0;
                                 bulk.textContent = selected.size ? `Delete selected (${selected.size})` : 'Delete selected';
                               } });
      return h('tr', { dataset: { id: row.objectId }, tabindex: 0, onclick: () => openEditor(schema, row, load),
                       onkeydown: (event) => { if (event.key === 'Enter') openEditor(schema, row, load); } },
        h('td', { class: 'check' }, box),
        columns.map((name) => h('td', { dataset: { field: name } }, cell(row[name], specOf(schema, name), {
          openRelation: () => {
            const spec = specOf(schema, name);
            const target = stateOf(spec.targetClass);
            target.related = { label: `${className}.${name} of ${row.objectId}`,
                               where: { object: { __type: 'Pointer', className, objectId: row.objectId }, key: name } };
            target.skip = 0;
            location.hash = `#/data/${encodeURIComponent(spec.targetClass)}`;
          },
        }))));
    }));
    clear(table, rows.length ? h('table', { class: 'grid', id: 'grid' }, h('thead', {}, head), body)
      : h('p', { class: 'muted empty' }, 'No objects match.'));
  };

  bulk.addEventListener('click', async () => {
    const ids = [...selected];
    if (!(await confirm('Delete objects', `Delete ${ids.length} object(s) of ${className}? This cannot be undone.`))) return;
    const requests = ids.map((id) => ({ method: 'DELETE', path: api.base() + api.classPath(className, id) }));
    try {
      const results = [];
      for (let i = 0; i < requests.length; i += 50) {
        results.push(...await api.post('/batch', { requests: requests.slice(i, i + 50) }));
      }
      const failed = results.filter((r) => r.error);
      toast(failed.length ? `${failed.length} not deleted: ${failed[0].error.error}` : `${ids.length} deleted`,
        failed.length ? 'error' : 'info');
    } catch (err) {
      toast(errorText(err), 'error');
    }
    load();
  });

  clear(content,
    h('div', { class: 'toolbar' },
      h('h1', {}, className),
      h('button', { type: 'button', id: 'new-object', class: 'primary', onclick: () => openEditor(schema, null, load) }, '+ Object'),
      bulk,
      h('button', { type: 'button', onclick: () => load() }, 'Refresh'),
      h('a', { class: 'button', href: `#/schema/${encodeURIComponent(className)}` }, 'Schema')),
    builder, whereView, table, pager);
  drawFilters();
  await load();
  if (focusId) {
    const row = st.rows.find((r) => r.objectId === focusId);
    try {
      openEditor(schema, row || await api.get(api.classPath(className, focusId)), load);
    } catch (err) {
      toast(errorText(err), 'error');
    }
  }
}

function filterRow(schema, row, remove) {
  const names = ['objectId', ...Object.keys(schema.fields || {}).filter((n) => n !== 'objectId' && n !== 'ACL')];
  const fieldSelect = h('select', { 'aria-label': 'Field', class: 'filter-field', onchange: (e) => { row.field = e.target.value; } },
    names.map((n) => h('option', { value: n }, n)));
  fieldSelect.value = row.field;
  const opSelect = h('select', { 'aria-label': 'Operator', class: 'filter-op', onchange: (e) => { row.op = e.target.value; } },
    OPERATORS.map(([value, label]) => h('option', { value }, label)));
  opSelect.value = row.op;
  const value = h('input', { type: 'text', 'aria-label': 'Value', class: 'filter-value', value: row.value,
                             oninput: (e) => { row.value = e.target.value; } });
  return h('div', { class: 'filter-row' }, fieldSelect, opSelect, value,
    h('button', { type: 'button', class: 'link', 'aria-label': 'Remove filter', onclick: remove }, '×'));
}

function editableFields(schema, row) {
  const fields = { ...(schema.fields || {}) };
  for (const key of Object.keys(row || {})) if (!fields[key]) fields[key] = { type: 'Object' };
  for (const key of ['objectId', 'createdAt', 'updatedAt', 'sessionToken', 'authData', 'emailVerified']) delete fields[key];
  if (schema.className === '_User' && !row) fields.password = { type: 'String' };
  return fields;
}

async function openEditor(schema, row, reload) {
  const className = schema.className;
  const fields = editableFields(schema, row);
  const inputs = {};
  const error = h('p', { class: 'error', role: 'alert', id: 'editor-error' });
  const form = h('form', { class: 'editor', id: 'object-editor' },
    Object.entries(fields).filter(([, spec]) => spec.type !== 'Relation').map(([name, spec]) => {
      inputs[name] = editor(name, spec, row ? row[name] : undefined);
      const hint = [spec.type === 'Pointer' ? `Pointer<${spec.targetClass}>` : spec.type,
                    spec.required ? 'required' : null,
                    spec.defaultValue !== undefined ? `default ${JSON.stringify(spec.defaultValue)}` : null]
        .filter(Boolean).join(' · ');
      return field(name, inputs[name], hint);
    }), error);
  const save = async () => {
    error.textContent = '';
    const body = {};
    try {
      for (const [name, input] of Object.entries(inputs)) {
        let value = readEditor(input, fields[name]);
        if (!row && value === '') value = undefined;  // an empty box on a new object sends nothing
        const before = row ? row[name] : undefined;
        if (value === undefined) {
          if (before !== undefined) body[name] = { __op: 'Delete' };
        } else if (!row || JSON.stringify(value) !== JSON.stringify(before)) {
          body[name] = value;
        }
      }
      if (row) await api.put(api.classPath(className, row.objectId), body);
      else await api.post(api.classPath(className), body);
    } catch (err) {
      error.textContent = errorText(err);
      return false;
    }
    toast(row ? `Saved ${row.objectId}` : `Created a ${className}`);
    reload();
    return true;
  };
  const buttons = [['Cancel', null]];
  if (row) {
    buttons.unshift(['Delete', async () => {
      if (!(await confirm('Delete object', `Delete ${className} ${row.objectId}?`))) return;
      try {
        await api.del(api.classPath(className, row.objectId));
        toast(`Deleted ${row.objectId}`);
        reload();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }]);
  }
  buttons.push([row ? 'Save' : 'Create', 'save']);
  for (;;) {
    const choice = await dialog(row ? `${className} ${row.objectId}` : `New ${className}`,
      [row ? h('details', {}, h('summary', {}, 'Raw JSON'), h('pre', {}, pretty(row))) : null, form], buttons);
    if (choice !== 'save') return;
    if (await save()) return;
    // Otherwise the form stays open with the server's message, for another try.
  }
}
