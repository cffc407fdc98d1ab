// The console shell: sign-in, navigation and hash routing (#/data/Product, ...).
import { api } from './api.js';
import { clear, errorText, field, h, spinner } from './ui.js';
import { renderData } from './data.js';
import { renderSchema } from './schema.js';
import { renderUsers } from './users.js';
import { renderLive, stopLive } from './live.js';
import { renderCloud } from './cloud.js';
import { renderConfig } from './config.js';

const SCREENS = [
  ['data', 'Data', renderData],
  ['schema', 'Schema', renderSchema],
  ['users', 'Users & roles', renderUsers],
  ['live', 'Live view', renderLive],
  ['cloud', 'Cloud code', renderCloud],
  ['config', 'Config', renderConfig],
];

const root = document.getElementById('app');

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  return { screen: parts[0] || 'data', args: parts.slice(1) };
}

export function go(...parts) {
  location.hash = '#/' + parts.map(encodeURIComponent).join('/');
}

function signInScreen(message) {
  const key = h('input', { type: 'password', name: 'masterKey', autocomplete: 'off', required: true });
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password' });
  const status = h('p', { class: 'error', role: 'alert' }, message || '');
  const attempt = async (event, fn) => {
    event.preventDefault();
    status.textContent = '';
    try {
      await fn();
      render();
    } catch (err) {
      status.textContent = errorText(err);
    }
  };
  return h('main', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('h1', {}, h('img', { src: 'static/icon.svg', alt: '', width: 28, height: 28 }), ' bapp console'),
      h('p', { class: 'muted' }, `App ${api.config.appId}`),
      h('form', { id: 'master-form', onsubmit: (e) => attempt(e, () => api.signInWithMasterKey(key.value)) },
        h('h2', {}, 'Master key'),
        field('Master key', key, 'Kept in this page only; never stored by the browser.'),
        h('button', { type: 'submit', class: 'primary' }, 'Sign in with the master key')),
      h('form', { id: 'user-form',
                  onsubmit: (e) => attempt(e, () => api.signInAsUser(username.value, password.value)) },
        h('h2', {}, `Or as a member of the ${api.config.adminRole} role`),
        field('Username', username), field('Password', password),
        h('button', { type: 'submit' }, 'Sign in')),
      status));
}

function shell(current) {
  const nav = h('nav', { class: 'nav', 'aria-label': 'Screens' },
    SCREENS.map(([id, label]) => h('a', { href: `#/${id}`, class: id === current ? 'active' : '',
                                          'aria-current': id === current ? 'page' : null }, label)),
    h('a', { href: api.config.graphqlPath, target: '_blank', rel: 'noopener noreferrer' }, 'GraphQL ↗'));
  const who = api.mode === 'master' ? 'master key' : (api.user && api.user.username);
  const header = h('header', { class: 'top' },
    h('button', { type: 'button', class: 'menu-toggle', 'aria-label': 'Menu',
                  onclick: () => document.body.classList.toggle('nav-open') }, '☰'),
    h('a', { class: 'brand', href: '#/data' }, h('img', { src: 'static/icon.svg', alt: '', width: 22, height: 22 }),
      ' bapp ', h('span', { class: 'muted' }, api.config.appId)),
    h('span', { class: 'who' }, `Signed in with ${who}`),
    h('button', { type: 'button', id: 'sign-out', onclick: async () => { await api.signOut(); render(); } },
      'Sign out'));
  const main = h('main', { id: 'screen', class: 'screen' });
  clear(root, header, h('div', { class: 'layout' }, nav, main));
  nav.addEventListener('click', () => document.body.classList.remove('nav-open'));
  return main;
}

let rendering = 0;

export async function render() {
  const ticket = ++rendering;
  stopLive();
  document.querySelectorAll('.overlay').forEach((overlay) => overlay.remove());
  if (!api.mode) {
    clear(root, signInScreen());
    return;
  }
  const { screen, args } = route();
  const found = SCREENS.find(([id]) => id === screen) || SCREENS[0];
  const main = shell(found[0]);
  main.append(spinner());
  try {
    await found[2](main, args, () => ticket === rendering);
  } catch (err) {
    if (ticket === rendering) clear(main, h('p', { class: 'error', role: 'alert' }, errorText(err)));
  }
}

async function start() {
  try {
    await api.loadConfig();
  } catch (err) {
    clear(root, h('p', { class: 'error' }, 'The console configuration could not be loaded.'));
    return;
  }
  document.title = `bapp console · ${api.config.appId}`;
  await api.resume();
  window.addEventListener('hashchange', render);
  render();
}

start();
