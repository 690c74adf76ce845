import { ApiError, storedKey, storeKey, whoAmI, type Role, type Viewer } from './api.js';
import { el, errorBox } from './ui.js';
import { anomaliesPage } from './pages/anomalies.js';
import { funnelsPage } from './pages/funnels.js';
import { modelsPage } from './pages/models.js';
import { predictionsPage } from './pages/predictions.js';
import { recommendationsPage } from './pages/recommendations.js';

/** A console page: who may see it and how it draws itself into the main area. */
export interface Page {
  path: string;
  title: string;
  roles: readonly Role[];
  /** Draws the page; returns a function that stops its timers (polls) when the user leaves it. */
  render(container: HTMLElement, viewer: Viewer): (() => void) | void;
}

/** In the order of the navigation bar; each role sees the pages its key can use. */
const PAGES: Page[] = [funnelsPage, recommendationsPage, predictionsPage, anomaliesPage, modelsPage];

const pageArea = document.getElementById('page')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;
let leavePage: (() => void) | void;

function pagesFor(viewer: Viewer): Page[] {
  return PAGES.filter((page) => page.roles.includes(viewer.role));
}

function showSignIn(problem?: string): void {
  nav.replaceChildren();
  who.replaceChildren();
  const key = el('input', { type: 'password', name: 'apiKey', autocomplete: 'off', placeholder: 'API key', 'data-testid': 'api-key' });
  const errors = errorBox();
  if (problem) errors.show(problem);
  const form = el(
    'form',
    { class: 'signin' },
    el('section', {}, el('h2', {}, 'Sign in'), el('p', { class: 'muted' }, 'With a Funnelcast API key. It stays in this tab (session storage) and is sent to /graphql only.'), key, el('p', {}, el('button', { type: 'submit', class: 'primary' }, 'Sign in')), errors),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    storeKey(key.value.trim());
    void start();
  });
  pageArea.replaceChildren(form);
  key.focus();
}

function route(viewer: Viewer): void {
  leavePage?.();
  const allowed = pagesFor(viewer);
  const wanted = location.hash.replace(/^#\/?/, '');
  const page = allowed.find((candidate) => candidate.path === wanted) ?? allowed[0];
  if (!page) {
    pageArea.replaceChildren(el('p', {}, 'This key has no console pages.'));
    return;
  }
  for (const link of nav.querySelectorAll('a')) link.classList.toggle('current', link.getAttribute('href') === `#/${page.path}`);
  pageArea.replaceChildren();
  pageArea.dataset.page = page.path;
  leavePage = page.render(pageArea, viewer);
}

async function start(): Promise<void> {
  let viewer: Viewer | null;
  try {
    viewer = await whoAmI();
  } catch (error) {
    storeKey(null);
    showSignIn(error instanceof ApiError ? error.message : String(error));
    return;
  }
  if (!viewer) {
    // `viewer` is public: a key it does not know answers null, not an error.
    const typed = storedKey();
    storeKey(null);
    showSignIn(typed ? 'That API key is not valid or has been revoked.' : undefined);
    return;
  }
  const signedIn = viewer;
  nav.replaceChildren(...pagesFor(signedIn).map((page) => el('a', { href: `#/${page.path}`, 'data-testid': `nav-${page.path}` }, page.title)));
  who.replaceChildren(
    `${signedIn.name} (${signedIn.role.toLowerCase()})`,
    el('button', { type: 'button', onclick: () => { storeKey(null); leavePage?.(); location.hash = ''; showSignIn(); } }, 'Sign out'),
  );
  who.dataset.role = signedIn.role;
  window.onhashchange = () => route(signedIn);
  route(signedIn);
}

void start();
