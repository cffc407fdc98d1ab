// Users and roles: find users, send a password reset, roles with their
// users and child roles.
import { api } from './api.js';
import { clear, confirm, errorText, h, toast } from './ui.js';

function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export async function renderUsers(main, args, alive) {
  const results = h('div', { id: 'user-results' });
  const query = h('input', { type: 'search', placeholder: 'username or email', 'aria-label': 'Find users', id: 'user-query' });
  const search = async () => {
    const text = query.value.trim();
    const where = text ? { $or: [{ username: { $regex: escapeRegex(text), $options: 'i' } },
                                 { email: { $regex: escapeRegex(text), $options: 'i' } }] } : {};
    try {
      const { results: users } = await api.get('/users', { where, limit: 50, order: 'username' });
      clear(results, users.length ? h('table', { class: 'grid compact' },
        h('thead', {}, h('tr', {}, ['Username', 'Email', 'Verified', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, users.map((user) => h('tr', { dataset: { id: user.objectId } },
          h('td', {}, h('a', { href: `#/data/_User/${encodeURIComponent(user.objectId)}` }, user.username)),
          h('td', {}, user.email || ''), h('td', {}, user.emailVerified ? 'yes' : ''),
          h('td', {}, (user.createdAt || '').slice(0, 10)),
          h('td', {}, user.email ? h('button', { type: 'button', class: 'link', onclick: () => reset(user) }, 'Reset password') : ''))))
      ) : h('p', { class: 'muted' }, 'No users found.'));
    } catch (err) {
      clear(results, h('p', { class: 'error', role: 'alert' }, errorText(err)));
    }
  };
  const roles = h('div', { id: 'roles' });
  clear(main, h('section', { class: 'content wide' },
    h('h1', {}, 'Users'),
    h('form', { class: 'inline', onsubmit: (event) => { event.preventDefault(); search(); } }, query,
      h('button', { type: 'submit', class: 'primary' }, 'Find')),
    results, h('h1', {}, 'Roles'), roles));
  await Promise.all([search(), showRoles(roles)]);
}

async function reset(user) {
  if (!(await confirm('Reset password', `Send a password reset email to ${user.email}?`, 'Send'))) return;
  try {
    await api.post('/requestPasswordReset', { email: user.email });
    toast(`Reset email sent to ${user.email}`);
  } catch (err) {
    toast(errorText(err), 'error');
  }
}

async function showRoles(box) {
  let roles;
  try {
    ({ results: roles } = await api.get('/roles', { limit: 100, order: 'name' }));
  } catch (err) {
    clear(box, h('p', { class: 'error' }, errorText(err)));
    return;
  }
  if (!roles.length) {
    clear(box, h('p', { class: 'muted' }, 'No roles.'));
    return;
  }
  const rows = await Promise.all(roles.map(async (role) => {
    const owner = { __type: 'Pointer', className: '_Role', objectId: role.objectId };
    const [users, children] = await Promise.all([
      api.get('/users', { where: { $relatedTo: { object: owner, key: 'users' } }, limit: 20, keys: 'username' })
        .then((r) => r.results.map((u) => u.username)).catch(() => ['(hidden)']),
      api.get('/roles', { where: { $relatedTo: { object: owner, key: 'roles' } }, limit: 20, keys: 'name' })
        .then((r) => r.results.map((c) => c.name)).catch(() => []),
    ]);
    return h('tr', { dataset: { role: role.name } }, h('td', {}, role.name),
      h('td', {}, users.join(', ') || '—'), h('td', {}, children.join(', ') || '—'),
      h('td', {}, h('a', { href: `#/data/_Role/${encodeURIComponent(role.objectId)}` }, 'Edit')));
  }));
  clear(box, h('table', { class: 'grid compact' },
    h('thead', {}, h('tr', {}, ['Role', 'Users', 'Child roles', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}
