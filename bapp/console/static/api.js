// The console's only way to the server: the public REST API and LiveQuery,
// with the credentials held in this module (page memory). The master key is
// never written to any browser storage; an admin's session token lives in
// sessionStorage (gone when the tab closes) so a reload keeps the sign-in.

const TOKEN_KEY = 'bapp.console.session';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const api = {
  config: null,
  masterKey: null,
  sessionToken: null,
  user: null,

  get mode() { return this.masterKey ? 'master' : (this.sessionToken ? 'user' : null); },

  async loadConfig() {
    const reply = await fetch('config.json', { credentials: 'omit' });
    this.config = await reply.json();
    return this.config;
  },

  base() { return this.config.mountPath === '/' ? '' : this.config.mountPath; },

  headers(extra = {}) {
    const headers = { 'X-Parse-Application-Id': this.config.appId, ...extra };
    if (this.masterKey) headers['X-Parse-Master-Key'] = this.masterKey;
    else if (this.sessionToken) headers['X-Parse-Session-Token'] = this.sessionToken;
    return headers;
  },

  async request(method, path, body, params) {
    let url = this.base() + path;
    if (params) {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(params)) {
        if (value === undefined || value === null) continue;
        query.set(key, typeof value === 'string' ? value : JSON.stringify(value));
      }
      const text = query.toString();
      if (text) url += '?' + text;
    }
    const init = { method, headers: this.headers(), credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let reply;
    try {
      reply = await fetch(url, init);
    } catch (err) {
      throw new ApiError(0, 100, 'The server cannot be reached.');
    }
    const text = await reply.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (err) { data = { error: text }; }
    if (!reply.ok) {
      const message = (data && data.error) || `HTTP ${reply.status}`;
      throw new ApiError(reply.status, data && data.code, message);
    }
    return { data, headers: reply.headers };
  },

  async get(path, params) { return (await this.request('GET', path, undefined, params)).data; },
  async post(path, body) { return (await this.request('POST', path, body || {})).data; },
  async put(path, body) { return (await this.request('PUT', path, body || {})).data; },
  async del(path) { return (await this.request('DELETE', path)).data; },

  // ---------------------------------------------------------------- sign-in
  async signInWithMasterKey(key) {
    this.masterKey = key;
    this.sessionToken = null;
    try {
      await this.get('/serverInfo');
    } catch (err) {
      this.masterKey = null;
      throw err.status === 403 ? new ApiError(403, 0, 'That master key was refused.') : err;
    }
  },

  async signInAsUser(username, password) {
    this.masterKey = null;
    const user = await this.post('/login', { username, password });
    this.sessionToken = user.sessionToken;
    if (!(await this.isAdmin())) {
      await this.signOut();
      throw new ApiError(403, 0, `${username} is not in the ${this.config.adminRole} role.`);
    }
    this.user = user;
    sessionStorage.setItem(TOKEN_KEY, user.sessionToken);
  },

  async isAdmin() {
    // The server resolves the caller's roles (inherited ones too); role
    // objects themselves are usually readable by the master key only.
    const { results } = await this.get('/users/me/roles');
    return results.includes(this.config.adminRole);
  },

  async resume() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return false;
    this.sessionToken = token;
    try {
      const user = await this.get('/users/me');
      if (await this.isAdmin()) { this.user = user; return true; }
    } catch (err) { /* expired or revoked: sign in again */ }
    this.sessionToken = null;
    sessionStorage.removeItem(TOKEN_KEY);
    return false;
  },

  async signOut() {
    if (this.sessionToken && !this.masterKey) {
      try { await this.post('/logout'); } catch (err) { /* already gone */ }
    }
    this.masterKey = null;
    this.sessionToken = null;
    this.user = null;
    sessionStorage.removeItem(TOKEN_KEY);
  },

  // ---------------------------------------------------------------- helpers
  classPath(className, objectId) {
    const base = className === '_User' ? '/users' : className === '_Role' ? '/roles'
      : className === '_Installation' ? '/installations' : className === '_Session' ? '/sessions'
        : '/classes/' + encodeURIComponent(className);
    return objectId ? `${base}/${encodeURIComponent(objectId)}` : base;
  },

  liveQueryUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${this.base() || '/'}`;
  },
};

// A LiveQuery subscription over the Parse LiveQuery protocol.
export class LiveSubscription {
  constructor(className, where, onEvent, onStatus) {
    this.className = className;
    this.where = where;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.socket = null;
  }

  open() {
    const socket = new WebSocket(api.liveQueryUrl());
    this.socket = socket;
    socket.addEventListener('open', () => {
      const connect = { op: 'connect', applicationId: api.config.appId };
      if (api.masterKey) connect.masterKey = api.masterKey;
      else if (api.sessionToken) connect.sessionToken = api.sessionToken;
      socket.send(JSON.stringify(connect));
    });
    socket.addEventListener('message', (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch (err) { return; }
      if (data.op === 'connected') {
        const subscribe = { op: 'subscribe', requestId: 1, query: { className: this.className, where: this.where } };
        if (api.sessionToken && !api.masterKey) subscribe.sessionToken = api.sessionToken;
        socket.send(JSON.stringify(subscribe));
      } else if (data.op === 'subscribed') {
        this.onStatus('subscribed');
      } else if (data.op === 'error') {
        this.onStatus('error', data.error || 'LiveQuery error');
      } else if (['create', 'update', 'delete', 'enter', 'leave'].includes(data.op)) {
        this.onEvent(data.op, data.object, data.original);
      }
    });
    socket.addEventListener('close', () => this.onStatus('closed'));
  }

  close() {
    if (this.socket) this.socket.close();
    this.socket = null;
  }
}
