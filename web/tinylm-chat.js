// <tinylm-chat>: a chat box a static site gets by pasting two lines.
//
//   <script type="module" src="/tinylm/tinylm-chat.js"></script>
//   <tinylm-chat model="/models/SmolLM2-135M-Instruct.Q4_1.gguf"></tinylm-chat>
//
// Attributes: model (URL of a GGUF file, required), sha256 (expected hash, enforced),
// system (system prompt), placeholder, max-tokens (default 256), temperature (default 0.7),
// autoload (download without asking first; a model already stored always loads at once).
// Style it with CSS custom properties: --tinylm-accent, --tinylm-background, --tinylm-text,
// --tinylm-border, --tinylm-height; or ::part(box|status|log|input|send).
// Events: tinylm-ready ({detail: load result}), tinylm-answer ({detail: {text}}), tinylm-error.
// Everything shown is text (textContent): the model's output can not inject markup.

import { TinyLM, modelStore, formatBytes } from './tinylm.js';

const STYLE = `
  :host { display: block; font: inherit; color: var(--tinylm-text, inherit);
    --accent: var(--tinylm-accent, #2f5d50); --border: var(--tinylm-border, #d7dbd8); }
  .box { display: flex; flex-direction: column; height: var(--tinylm-height, 28rem); border: 1px solid var(--border);
    border-radius: 12px; background: var(--tinylm-background, Canvas); overflow: hidden; }
  .status { padding: 0.5rem 0.8rem; font-size: 0.88em; border-bottom: 1px solid var(--border); display: flex;
    align-items: center; gap: 0.6rem; flex-wrap: wrap; opacity: 0.9; }
  .status span { flex: 1; min-width: 10rem; }
  progress { width: 100%; height: 0.45rem; accent-color: var(--accent); }
  .log { flex: 1; overflow-y: auto; list-style: none; margin: 0; padding: 0.8rem; display: flex; flex-direction: column; gap: 0.6rem; }
  .log li { max-width: 88%; padding: 0.45rem 0.75rem; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.45; }
  .log li.user { align-self: flex-end; background: color-mix(in srgb, var(--accent) 16%, transparent); }
  .log li.assistant { align-self: flex-start; border: 1px solid var(--border); }
  .log li.error { border-color: #b3412f; color: #b3412f; }
  form { display: flex; gap: 0.4rem; padding: 0.55rem; border-top: 1px solid var(--border); }
  textarea { flex: 1; resize: none; font: inherit; padding: 0.45rem 0.6rem; border: 1px solid var(--border); border-radius: 8px;
    background: transparent; color: inherit; }
  button { font: inherit; border-radius: 8px; border: 1px solid var(--accent); padding: 0.4rem 0.85rem; cursor: pointer;
    background: var(--accent); color: white; }
  button.secondary { background: transparent; color: inherit; border-color: var(--border); }
  button:disabled { opacity: 0.5; cursor: default; }
  [hidden] { display: none !important; }
`;

export class TinyLMChat extends HTMLElement {
  static observedAttributes = ['model'];

  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `
      <style>${STYLE}</style>
      <div class="box" part="box">
        <div class="status" part="status" aria-live="polite">
          <span class="text">…</span>
          <button class="load" type="button" hidden>Load model</button>
          <progress max="1" value="0" hidden></progress>
        </div>
        <ol class="log" part="log" aria-live="polite"></ol>
        <form>
          <textarea rows="1" part="input" aria-label="Message"></textarea>
          <button class="send" part="send" type="submit">Send</button>
          <button class="stop secondary" type="button" hidden>Stop</button>
        </form>
      </div>`;
    const $ = (selector) => this.shadowRoot.querySelector(selector);
    this.ui = { text: $('.text'), load: $('.load'), progress: $('progress'), log: $('.log'), form: $('form'), input: $('textarea'), send: $('.send'), stop: $('.stop') };
    /** The conversation so far: [{role, content}]. */
    this.messages = [];
    this.lm = null;
    this.loading = null;
    this.generating = null;
    this.ui.load.addEventListener('click', () => this.load());
    this.ui.stop.addEventListener('click', () => this.generating?.abort());
    this.ui.form.addEventListener('submit', (event) => { event.preventDefault(); this.#submit(); });
    this.ui.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); this.#submit(); }
    });
  }

  connectedCallback() {
    this.ui.input.placeholder = this.getAttribute('placeholder') || 'Ask a question…';
    this.#prepare();
  }

  disconnectedCallback() {
    this.generating?.abort();
    this.loading?.abort();
    this.lm?.terminate();
    this.lm = null;
  }

  attributeChangedCallback(name, old, value) {
    if (name === 'model' && old !== null && old !== value && this.isConnected) {
      this.lm?.terminate();
      this.lm = null;
      this.#prepare();
    }
  }

  get ready() { return Boolean(this.lm?.loaded); }

  /** Downloads (once) and loads the model; resolves when the box can answer. */
  async load() {
    if (this.ready) return this.lm.loaded;
    if (this.loading) return this.loading.promise;
    const url = this.getAttribute('model');
    if (!url) return this.#status('Set the model attribute to the URL of a GGUF file.');
    const controller = new AbortController();
    this.loading = controller;
    this.ui.load.hidden = true;
    this.ui.progress.hidden = false;
    controller.promise = (async () => {
      try {
        this.lm ??= new TinyLM();
        const result = await this.lm.load(url, {
          sha256: this.getAttribute('sha256') || null,
          signal: controller.signal,
          onProgress: ({ phase, done, total }) => {
            this.ui.progress.value = total ? done / total : 0;
            this.#status(phase === 'download' ? `Downloading the model: ${formatBytes(done)} / ${formatBytes(total)}`
              : phase === 'verify' ? 'Checking the stored model…' : 'Starting the model…');
          },
        });
        this.#status('Ready — the model runs on your device; nothing you type leaves it.');
        this.dispatchEvent(new CustomEvent('tinylm-ready', { detail: result }));
        return result;
      } catch (error) {
        this.#status(`${error.name}: ${error.message}`);
        this.ui.load.hidden = false;
        this.ui.load.textContent = 'Retry';
        this.dispatchEvent(new CustomEvent('tinylm-error', { detail: error }));
        throw error;
      } finally {
        this.ui.progress.hidden = true;
        this.loading = null;
      }
    })();
    return controller.promise;
  }

  /** Sends `text` as the user and streams the answer into the box; resolves with the answer. */
  async ask(text) {
    if (!text.trim() || this.generating) return null;
    this.#add('user', text);
    this.messages.push({ role: 'user', content: text });
    const item = this.#add('assistant', '…');
    try {
      await this.load();
    } catch {
      item.remove();
      this.messages.pop();
      return null;
    }
    const controller = new AbortController();
    this.generating = controller;
    this.ui.send.hidden = true;
    this.ui.stop.hidden = false;
    let answer = '';
    try {
      const system = this.getAttribute('system');
      const result = await this.lm.chat(system ? [{ role: 'system', content: system }, ...this.messages] : this.messages, {
        maxTokens: Number(this.getAttribute('max-tokens')) || 256,
        temperature: this.hasAttribute('temperature') ? Number(this.getAttribute('temperature')) : 0.7,
        repeatPenalty: 1.1,
        signal: controller.signal,
        onToken: (piece) => { answer += piece; item.textContent = answer; this.ui.log.scrollTop = this.ui.log.scrollHeight; },
      });
      answer = result.text.trim();
    } catch (error) {
      if (error.name !== 'AbortError') {
        item.classList.add('error');
        answer = `${error.name}: ${error.message}`;
      }
    } finally {
      this.generating = null;
      this.ui.send.hidden = false;
      this.ui.stop.hidden = true;
    }
    item.textContent = answer.trim() || '(no answer)';
    if (!item.classList.contains('error')) {
      this.messages.push({ role: 'assistant', content: answer.trim() });
      this.dispatchEvent(new CustomEvent('tinylm-answer', { detail: { text: answer.trim() } }));
    } else {
      this.messages.pop();
    }
    return answer.trim();
  }

  async #prepare() {
    const url = this.getAttribute('model');
    if (!url) return this.#status('Set the model attribute to the URL of a GGUF file.');
    // A stored model costs nothing to open; a download waits for the visitor (or `autoload`).
    if (this.hasAttribute('autoload') || await modelStore.has(url).catch(() => false)) return this.load().catch(() => {});
    this.#status('This chat runs a small AI model in your browser. It is downloaded once, then works offline.');
    this.ui.load.hidden = false;
    const size = await fetch(url, { method: 'HEAD' }).then((r) => Number(r.headers.get('Content-Length')) || 0).catch(() => 0);
    this.ui.load.textContent = size ? `Load model (${formatBytes(size)})` : 'Load model';
  }

  #submit() {
    const text = this.ui.input.value;
    if (!text.trim() || this.generating) return;
    this.ui.input.value = '';
    this.ask(text);
  }

  #add(role, text) {
    const item = document.createElement('li');
    item.className = role;
    item.textContent = text;
    this.ui.log.append(item);
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
    return item;
  }

  #status(text) { this.ui.text.textContent = text; }
}

if (!customElements.get('tinylm-chat')) customElements.define('tinylm-chat', TinyLMChat);
