// How a value of each Parse type is shown in a table cell and edited in a form.
import { h, formatDate, pretty } from './ui.js';

const IMAGE = /\.(png|jpe?g|gif|webp|avif|bmp)$/i;

export function aclSummary(acl) {
  if (!acl || typeof acl !== 'object') return '';
  const parts = Object.entries(acl).map(([who, rights]) => {
    const name = who === '*' ? 'public' : who;
    const r = (rights.read ? 'r' : '') + (rights.write ? 'w' : '');
    return `${name}:${r || '-'}`;
  });
  return parts.length ? parts.join(', ') : 'master only';
}

export function cell(value, spec, context) {
  const type = spec && spec.type;
  if (value === undefined) return h('span', { class: 'undef' }, '—');
  if (value === null) return h('span', { class: 'null' }, 'null');
  if (type === 'Pointer' || (value && value.__type === 'Pointer')) {
    return h('a', { class: 'pointer', onclick: (event) => event.stopPropagation(),
                    href: `#/data/${encodeURIComponent(value.className)}/${encodeURIComponent(value.objectId)}` },
      `${value.className === spec?.targetClass ? '' : value.className + ':'}${value.objectId}`);
  }
  if (type === 'Relation') {
    return h('button', { type: 'button', class: 'link relation', onclick: (event) => {
      event.stopPropagation();
      context.openRelation();
    } }, `${spec.targetClass} ›`);
  }
  if (type === 'Date' || (value && value.__type === 'Date')) {
    const iso = typeof value === 'string' ? value : value.iso;
    return h('time', { datetime: iso }, formatDate(iso));
  }
  if (type === 'File' || (value && value.__type === 'File')) {
    const label = (value.name || '').replace(/^[0-9a-f]{32}_/, '');
    const link = h('a', { href: value.url, target: '_blank', rel: 'noopener noreferrer', class: 'file',
                          onclick: (event) => event.stopPropagation() }, label);
    if (IMAGE.test(value.name || '')) {
      return h('span', { class: 'file-cell' }, h('img', { src: value.url, alt: '', class: 'thumb', loading: 'lazy' }), link);
    }
    return link;
  }
  if (type === 'GeoPoint' || (value && value.__type === 'GeoPoint')) {
    return h('span', { class: 'geo' }, `${value.latitude}, ${value.longitude}`);
  }
  if (type === 'ACL') return h('span', { class: 'acl' }, aclSummary(value));
  if (type === 'Boolean' || typeof value === 'boolean') return h('span', { class: value ? 'yes' : 'no' }, String(value));
  if (typeof value === 'object') {
    const text = JSON.stringify(value);
    return h('code', { title: text }, text.length > 60 ? text.slice(0, 57) + '…' : text);
  }
  return String(value);
}

// -------------------------------------------------------------------- editing

export function editor(name, spec, value) {
  const type = spec.type;
  if (type === 'Boolean') {
    const input = h('select', { name }, h('option', { value: '' }, '(unset)'),
      h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
    input.value = value === undefined || value === null ? '' : String(value);
    return input;
  }
  if (type === 'Number') return h('input', { name, type: 'text', inputmode: 'decimal', value: value ?? '' });
  if (type === 'String') {
    return String(value ?? '').length > 80 || String(value ?? '').includes('\n')
      ? h('textarea', { name, rows: 3, value: value ?? '' })
      : h('input', { name, type: 'text', value: value ?? '' });
  }
  if (type === 'Date') return h('input', { name, type: 'text', placeholder: '2026-01-31T12:00:00.000Z', value: value ? value.iso : '' });
  if (type === 'Pointer') {
    return h('input', { name, type: 'text', placeholder: `${spec.targetClass} objectId`, value: value ? value.objectId : '' });
  }
  if (type === 'GeoPoint') {
    return h('input', { name, type: 'text', placeholder: 'latitude, longitude',
                        value: value ? `${value.latitude}, ${value.longitude}` : '' });
  }
  return h('textarea', { name, rows: 4, class: 'json', placeholder: 'JSON', value: value === undefined ? '' : pretty(value) });
}

// The REST value an editor holds; undefined means "leave unset".
export function readEditor(input, spec) {
  const text = input.value;
  const type = spec.type;
  if (text === '' && type !== 'String') return undefined;
  switch (type) {
    case 'Boolean': return text === 'true';
    case 'Number': {
      const number = Number(text);
      if (Number.isNaN(number)) throw new Error(`${input.name} must be a number`);
      return number;
    }
    case 'String': return text;
    case 'Date': return { __type: 'Date', iso: text };
    case 'Pointer': return { __type: 'Pointer', className: spec.targetClass, objectId: text.trim() };
    case 'GeoPoint': {
      const [latitude, longitude] = text.split(',').map((part) => Number(part.trim()));
      return { __type: 'GeoPoint', latitude, longitude };
    }
    default:
      try { return JSON.parse(text); } catch (err) { throw new Error(`${input.name} is not valid JSON`); }
  }
}

// -------------------------------------------------------------------- filters

export const OPERATORS = [
  ['$eq', 'equals'], ['$ne', 'is not'], ['$lt', '<'], ['$lte', '≤'], ['$gt', '>'], ['$gte', '≥'],
  ['contains', 'contains'], ['starts', 'starts with'], ['$in', 'is one of'], ['exists', 'exists'],
  ['missing', 'does not exist'],
];

function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function filterValue(text, spec) {
  const type = spec ? spec.type : 'String';
  if (type === 'Number') return Number(text);
  if (type === 'Boolean') return text === 'true';
  if (type === 'Date') return { __type: 'Date', iso: new Date(text).toISOString() };
  if (type === 'Pointer') return { __type: 'Pointer', className: spec.targetClass, objectId: text };
  return text;
}

// Rows of {field, op, value} to a Parse where (ANDed).
export function buildWhere(rows, fields) {
  const where = {};
  for (const { field, op, value } of rows) {
    if (!field) continue;
    const spec = fields[field];
    let constraint;
    if (op === 'exists') constraint = { $exists: true };
    else if (op === 'missing') constraint = { $exists: false };
    else if (op === 'contains') constraint = { $regex: escapeRegex(value), $options: 'i' };
    else if (op === 'starts') constraint = { $regex: '^' + escapeRegex(value) };
    else if (op === '$in') constraint = { $in: value.split(',').map((v) => filterValue(v.trim(), spec)) };
    else if (op === '$eq') constraint = filterValue(value, spec);
    else constraint = { [op]: filterValue(value, spec) };
    const current = where[field];
    if (current && typeof current === 'object' && !current.__type && typeof constraint === 'object' && !constraint.__type) {
      where[field] = { ...current, ...constraint };
    } else {
      where[field] = constraint;
    }
  }
  return where;
}
