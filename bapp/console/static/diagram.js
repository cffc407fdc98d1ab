// The app's ER diagram: the Mermaid erDiagram text `bapp schema docs`
// writes, and the same diagram drawn as SVG here (Mermaid's renderer needs
// inline styles, which the console's Content-Security-Policy forbids).
const SVG = 'http://www.w3.org/2000/svg';
const HIDDEN = new Set(['password', 'authData', 'ACL', '_rperm', '_wperm']);
const ent = (name) => name.replace(/^_+/, '') || name;

function userFields(schema) {
  return Object.entries(schema.fields || {}).filter(([name]) => !HIDDEN.has(name)
    && !['objectId', 'createdAt', 'updatedAt'].includes(name));
}

export function mermaid(schemas) {
  const rels = [];
  const blocks = [];
  for (const schema of schemas) {
    const name = schema.className;
    const lines = [`    ${ent(name)} {`, '        String objectId PK'];
    for (const [field, spec] of userFields(schema)) {
      lines.push(`        ${spec.type} ${field}` + (spec.type === 'Pointer' ? ' FK' : ''));
      if (spec.type === 'Pointer') rels.push(`    ${ent(spec.targetClass)} ||--o{ ${ent(name)} : "${field}"`);
      if (spec.type === 'Relation') rels.push(`    ${ent(name)} }o--o{ ${ent(spec.targetClass)} : "${field}"`);
    }
    lines.push('        Date createdAt', '        Date updatedAt', '    }');
    blocks.push(lines.join('\n'));
  }
  return ['erDiagram', ...rels, '', blocks.join('\n\n')].join('\n') + '\n';
}

function el(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function drawDiagram(schemas) {
  const width = 220;
  const row = 18;
  const gapX = 70;
  const gapY = 50;
  const columns = Math.max(1, Math.ceil(Math.sqrt(schemas.length)));
  const boxes = new Map();
  const heights = [];
  schemas.forEach((schema, index) => {
    const fields = userFields(schema);
    const height = 28 + row * (fields.length + 1) + 8;
    const column = index % columns;
    const line = Math.floor(index / columns);
    heights[line] = Math.max(heights[line] || 0, height);
    boxes.set(schema.className, { schema, fields, column, line, height });
  });
  const tops = heights.reduce((acc, height, i) => { acc.push(i ? acc[i - 1] + heights[i - 1] + gapY : 10); return acc; }, []);
  const svg = el('svg', { xmlns: SVG, class: 'er', role: 'img', 'aria-label': 'ER diagram' });
  const links = el('g', { class: 'links' });
  svg.append(links);
  for (const box of boxes.values()) {
    box.x = 10 + box.column * (width + gapX);
    box.y = tops[box.line];
    const group = el('g', { class: 'entity', 'data-class': box.schema.className });
    group.append(el('rect', { x: box.x, y: box.y, width, height: box.height, rx: 6, class: 'entity-box' }));
    group.append(el('rect', { x: box.x, y: box.y, width, height: 26, rx: 6, class: 'entity-head' }));
    group.append(el('text', { x: box.x + 10, y: box.y + 18, class: 'entity-name' }, ent(box.schema.className)));
    const all = [['objectId', { type: 'String' }], ...box.fields];
    all.forEach(([name, spec], i) => {
      const y = box.y + 28 + row * (i + 1) - 4;
      group.append(el('text', { x: box.x + 10, y, class: 'field-name' }, name));
      const type = spec.targetClass ? `${spec.type === 'Pointer' ? '→' : '⇉'} ${ent(spec.targetClass)}` : spec.type;
      group.append(el('text', { x: box.x + width - 10, y, class: 'field-type', 'text-anchor': 'end' }, type));
    });
    svg.append(group);
  }
  for (const box of boxes.values()) {
    box.fields.forEach(([, spec], i) => {
      const target = spec.targetClass && boxes.get(spec.targetClass);
      if (!target || (spec.type !== 'Pointer' && spec.type !== 'Relation')) return;
      const y1 = box.y + 28 + row * (i + 2) - 8;
      const right = target.x > box.x;
      const x1 = right ? box.x + width : box.x;
      const x2 = target === box ? box.x + width + 30 : (right ? target.x : target.x + width);
      const y2 = target.y + 13;
      const mid = (x1 + x2) / 2;
      links.append(el('path', { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
                                class: spec.type === 'Relation' ? 'link relation' : 'link' }));
    });
  }
  const totalWidth = 20 + columns * width + (columns - 1) * gapX + 40;
  const totalHeight = (tops[tops.length - 1] || 0) + (heights[heights.length - 1] || 0) + 20;
  svg.setAttribute('viewBox', `0 0 ${totalWidth} ${totalHeight}`);
  svg.setAttribute('width', totalWidth);
  svg.setAttribute('height', totalHeight);
  return svg;
}
