// Cloud code: the functions, jobs and triggers the server runs; run a
// function with JSON params, start a job and watch its _JobStatus.
import { api } from './api.js';
import { clear, errorText, field, h, parseJson, pretty } from './ui.js';

let watching = null;

export async function renderCloud(main, args, alive) {
  if (watching) clearInterval(watching);
  const master = api.mode === 'master';
  // Listing the code and jobs is master-only; a signed-in admin types the name.
  const code = master ? await api.get('/cloud_code/functions') : { functions: [], jobs: [], triggers: [] };
  if (!alive()) return;
  const fn = h('input', { id: 'function-name', 'aria-label': 'Function', list: 'function-names', required: true,
                          value: code.functions.length ? code.functions[0].name : '', autocomplete: 'off' });
  const names = h('datalist', { id: 'function-names' },
    code.functions.map((f) => h('option', { value: f.name }, f.webhook ? 'webhook' : 'cloud code')));
  const params = h('textarea', { id: 'function-params', class: 'json', rows: 4, value: '{}', 'aria-label': 'Params' });
  const result = h('pre', { id: 'function-result', class: 'result' });
  const job = h('select', { id: 'job-name', 'aria-label': 'Job' }, code.jobs.map((j) => h('option', { value: j }, j)));
  const jobParams = h('textarea', { id: 'job-params', class: 'json', rows: 3, value: '{}', 'aria-label': 'Job params' });
  const jobStatus = h('div', { id: 'job-status' });
  const statuses = h('div', { id: 'job-history' });

  const run = async (event) => {
    event.preventDefault();
    result.className = 'result';
    try {
      const body = parseJson(params.value, 'params');
      const reply = await api.post(`/functions/${encodeURIComponent(fn.value)}`, body);
      result.textContent = pretty(reply.result === undefined ? null : reply.result);
    } catch (err) {
      result.className = 'result error';
      result.textContent = errorText(err);
    }
  };
  const showHistory = async () => {
    try {
      const { results } = await api.get('/classes/_JobStatus', { order: '-createdAt', limit: 10 });
      clear(statuses, h('table', { class: 'grid compact' },
        h('thead', {}, h('tr', {}, ['Job', 'Status', 'Message', 'Started', 'Finished'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, results.map((s) => h('tr', { dataset: { id: s.objectId, status: s.status } },
          h('td', {}, s.jobName), h('td', {}, h('span', { class: `status status-${s.status}` }, s.status)),
          h('td', {}, s.message || ''), h('td', {}, (s.createdAt || '').replace('T', ' ').slice(0, 19)),
          h('td', {}, s.finishedAt ? s.finishedAt.iso.replace('T', ' ').slice(0, 19) : ''))))));
    } catch (err) {
      clear(statuses, h('p', { class: 'error' }, errorText(err)));
    }
  };
  const startJob = async (event) => {
    event.preventDefault();
    try {
      const body = parseJson(jobParams.value, 'params');
      const reply = await api.request('POST', `/jobs/${encodeURIComponent(job.value)}`, body);
      const id = reply.headers.get('X-Parse-Job-Status-Id');
      clear(jobStatus, h('p', {}, `Started ${job.value}: status ${id}`));
      if (watching) clearInterval(watching);
      const poll = async () => {
        const status = await api.get(`/classes/_JobStatus/${encodeURIComponent(id)}`);
        clear(jobStatus, h('p', { dataset: { status: status.status } }, `${status.jobName}: `,
          h('span', { class: `status status-${status.status}` }, status.status), status.message ? ` — ${status.message}` : ''));
        if (status.status !== 'running') {
          clearInterval(watching);
          watching = null;
          showHistory();
        }
      };
      watching = setInterval(() => poll().catch(() => {}), 700);
      poll();
    } catch (err) {
      clear(jobStatus, h('p', { class: 'error', role: 'alert' }, errorText(err)));
    }
  };

  clear(main, h('section', { class: 'content wide' },
    h('h1', {}, 'Cloud functions'),
    h('form', { class: 'stack', onsubmit: run }, field('Function', fn), names, field('Params (JSON)', params),
      h('button', { type: 'submit', class: 'primary', id: 'run-function' }, 'Run'), result),
    master && !code.functions.length ? h('p', { class: 'muted' }, 'No cloud functions are loaded.') : null,
    h('h1', {}, 'Jobs'),
    !master ? h('p', { class: 'notice' }, 'Jobs and triggers are listed with the master key only.')
      : code.jobs.length ? h('form', { class: 'stack', onsubmit: startJob }, field('Job', job),
        field('Params (JSON)', jobParams), h('button', { type: 'submit', class: 'primary', id: 'start-job' }, 'Start job'),
        jobStatus) : h('p', { class: 'muted' }, 'No jobs are loaded.'),
    master ? statuses : null,
    master ? h('h1', {}, 'Triggers') : null,
    !master ? null : code.triggers.length ? h('ul', { class: 'plain' }, code.triggers.map((t) => h('li', {}, h('code', {}, t))))
      : h('p', { class: 'muted' }, 'No triggers.')));
  if (master) showHistory();
}
