// The login box in the header: a form when nobody is logged in, the user and role
// with a logout button otherwise. The session (user, role, CSRF token) comes from
// GET /api/session; logging in or out replaces it.

import { api, setCsrf } from './api.js';
import { h } from './util.js';

export class Auth {
  constructor(el, onChange) {
    this.el = el;
    this.onChange = onChange;
    this.session = { user: null, can_change_status: false, csrf: '' };
  }

  async load() {
    this.set(await api.session());
  }

  set(session) {
    this.session = session;
    setCsrf(session.csrf);
    this.render();
    this.onChange(session);
  }

  render(error) {
    const s = this.session;
    if (s.user) {
      this.el.replaceChildren(
        h('span', { id: 'who', class: 'who' }, s.user.name, ' ', h('span', { class: `badge role-${s.user.role}` }, s.user.role)),
        h('button', { id: 'logout', type: 'button', onclick: () => this.logout() }, 'Log out'));
      return;
    }
    const form = h('form', { id: 'login', class: 'login', onsubmit: (e) => { e.preventDefault(); this.login(form); } },
      h('input', { name: 'user', placeholder: 'user', autocomplete: 'username', required: true, size: 10 }),
      h('input', { name: 'password', type: 'password', placeholder: 'password', autocomplete: 'current-password', required: true, size: 12 }),
      h('button', { type: 'submit' }, 'Log in'),
      error ? h('span', { id: 'login-error', class: 'error' }, error) : null);
    this.el.replaceChildren(form);
  }

  async login(form) {
    const f = new FormData(form);
    try {
      this.set(await api.login(String(f.get('user')), String(f.get('password'))));
    } catch (e) {
      this.render(e.message);
    }
  }

  async logout() {
    try {
      this.set(await api.logout());
    } catch (e) {
      this.render(e.message);
    }
  }
}
