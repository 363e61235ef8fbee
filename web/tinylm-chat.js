// <tinylm-chat>: a chat box a static site gets by pasting two lines.
//
//   <script type="module" src="/tinylm/tinylm-chat.js"></script>
//   <tinylm-chat model="/models/SmolLM2-135M-Instruct.Q4_1.gguf"></tinylm-chat>
//
// Attributes: model (URL of a GGUF file, required), sha256 (expected hash, enforced),
// embedder, knowledge, k, embedder-sha256 (answers from a site's pages: below),
// system (system prompt), placeholder, max-tokens (default 512; an answer cut there says so and
// offers Continue), autoload (download without asking first; a model already stored always
// loads at once). Sampling: the model's recommended settings (shown under the status line),
// each overridable with temperature, top-k, top-p, min-p, repeat-penalty; seed (default: a
// random one per answer, so visitors get varied answers; set it for repeatable ones).
// Style it with CSS custom properties: --tinylm-accent, --tinylm-background, --tinylm-text,
// --tinylm-border, --tinylm-height; or ::part(box|status|log|input|send).
// Events: tinylm-ready ({detail: load result}), tinylm-answer ({detail: {text, reason, sampling, sources}}:
// sources, with a knowledge file, the passages used: [{documentId, title, url, heading, text, score, chunk}]),
// tinylm-error.
// Everything shown is text (textContent): the model's output can not inject markup.
//
// Answers from a site's own pages: add a knowledge file (`tinylm index` builds it from the
// site's folder; web/README.md, "Answers from your site's pages") and the embedding model it
// was built with:
//   <tinylm-chat model="/models/SmolLM2-135M-Instruct.Q4_1.gguf"
//                embedder="/models/all-MiniLM-L6-v2.gguf" knowledge="/site-knowledge.bin"></tinylm-chat>
// Each question is searched in the knowledge file (k passages, default 3, attribute `k`), the
// passages go into the prompt, and links to the pages they came from are shown under the
// answer (page URLs in the file are resolved against the knowledge file's URL).

import { TinyLM, modelStore, formatBytes } from './tinylm.js';
import { KnowledgeBase } from './knowledge-base.js';

/** Used only with engines that report no recommended sampling for the model (lm.loaded.sampling null). */
const FALLBACK_SAMPLING = { temperature: 0.7, repeatPenalty: 1.1 };

const STYLE = `
  :host { display: block; font: inherit; color: var(--tinylm-text, inherit);
    --accent: var(--tinylm-accent, #2f5d50); --border: var(--tinylm-border, #d7dbd8); }
  .box { display: flex; flex-direction: column; height: var(--tinylm-height, 28rem); border: 1px solid var(--border);
    border-radius: 12px; background: var(--tinylm-background, Canvas); overflow: hidden; }
  .status { padding: 0.5rem 0.8rem; font-size: 0.88em; border-bottom: 1px solid var(--border); display: flex;
    align-items: center; gap: 0.6rem; flex-wrap: wrap; opacity: 0.9; }
  .status span { flex: 1; min-width: 10rem; }
  .status small { flex-basis: 100%; opacity: 0.75; font-size: 0.85em; }
  progress { width: 100%; height: 0.45rem; accent-color: var(--accent); }
  .log { flex: 1; overflow-y: auto; list-style: none; margin: 0; padding: 0.8rem; display: flex; flex-direction: column; gap: 0.6rem; }
  .log li { max-width: 88%; padding: 0.45rem 0.75rem; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.45; }
  .log li.user { align-self: flex-end; background: color-mix(in srgb, var(--accent) 16%, transparent); }
  .log li.assistant { align-self: flex-start; border: 1px solid var(--border); }
  .log li.error { border-color: #b3412f; color: #b3412f; }
  .log li.notice { align-self: flex-start; font-size: 0.88em; opacity: 0.85; padding: 0 0.2rem; display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; }
  .log li.notice button { padding: 0.15rem 0.6rem; }
  .log li.sources { align-self: flex-start; font-size: 0.85em; padding: 0 0.2rem; display: flex; gap: 0.3rem 0.7rem; flex-wrap: wrap; }
  .log li.sources a { color: var(--accent); }
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
          <small class="sampling" part="sampling" hidden></small>
        </div>
        <ol class="log" part="log" aria-live="polite"></ol>
        <form>
          <textarea rows="1" part="input" aria-label="Message"></textarea>
          <button class="send" part="send" type="submit">Send</button>
          <button class="stop secondary" type="button" hidden>Stop</button>
        </form>
      </div>`;
    const $ = (selector) => this.shadowRoot.querySelector(selector);
    this.ui = { text: $('.text'), load: $('.load'), progress: $('progress'), sampling: $('.sampling'), log: $('.log'), form: $('form'),
      input: $('textarea'), send: $('.send'), stop: $('.stop') };
    /** The conversation so far: [{role, content}] (answers as generated, so the next turn reuses the model's cache). */
    this.messages = [];
    this.lm = null;
    /** The site's knowledge (a KnowledgeBase from the `knowledge` file), once loaded. */
    this.knowledge = null;
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
    this.knowledge = null;
  }

  attributeChangedCallback(name, old, value) {
    if (name === 'model' && old !== null && old !== value && this.isConnected) {
      this.lm?.terminate();
      this.lm = null;
      this.knowledge = null;
      this.#prepare();
    }
  }

  get ready() { return Boolean(this.lm?.loaded) && (!this.getAttribute('knowledge') || Boolean(this.knowledge)); }

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
        if (this.getAttribute('knowledge')) await this.#loadKnowledge(controller.signal);
        this.#status(this.knowledge
          ? `Ready — answers come from this site's pages (${this.knowledge.documents.length}); the model runs on your device, nothing you type leaves it.`
          : 'Ready — the model runs on your device; nothing you type leaves it.');
        this.#showSampling();
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

  /** Loads the embedding model (beside the chat model, in its Worker) and the knowledge file. */
  async #loadKnowledge(signal) {
    const embedderURL = this.getAttribute('embedder');
    if (!embedderURL) {
      const error = new Error('the knowledge attribute needs the embedder attribute too: the URL of the embedding model the knowledge file was built with');
      error.name = 'InvalidArgumentError';
      throw error;
    }
    const embedder = await this.lm.loadEmbedder(embedderURL, {
      sha256: this.getAttribute('embedder-sha256') || null,
      signal,
      onProgress: ({ phase, done, total }) => {
        this.ui.progress.value = total ? done / total : 0;
        this.#status(phase === 'download' ? `Downloading the search model: ${formatBytes(done)} / ${formatBytes(total)}`
          : phase === 'verify' ? 'Checking the stored search model…' : 'Starting the search model…');
      },
    });
    this.#status("Loading this site's pages…");
    this.knowledgeURL = new URL(this.getAttribute('knowledge'), location.href);
    this.knowledge = await KnowledgeBase.fromFile(this.knowledgeURL.href, { embedder, signal });
  }

  /** Sends `text` as the user and streams the answer into the box; resolves with the answer. */
  async ask(text) {
    if (!text.trim() || this.generating) return null;
    this.#add('user', text);
    this.messages.push({ role: 'user', content: text });
    return this.#answer(this.#add('assistant', '…'), '');
  }

  /** Goes on with the last answer after the length limit cut it; resolves with the whole answer. */
  async continue() {
    const last = this.messages.at(-1);
    const item = [...this.ui.log.querySelectorAll('li.assistant')].at(-1);
    if (this.generating || last?.role !== 'assistant' || !item) return null;
    this.messages.pop();
    this.ui.log.querySelector('li.notice')?.remove();
    return this.#answer(item, last.content);
  }

  /** The sampling options of a request: the attributes that are set (the model's recommendation
   *  fills the rest; for engines that report none, the box's former defaults). */
  samplingOptions() {
    const options = this.lm?.loaded && !this.lm.loaded.sampling ? { ...FALLBACK_SAMPLING } : {};
    const attributes = { temperature: 'temperature', topK: 'top-k', topP: 'top-p', minP: 'min-p', repeatPenalty: 'repeat-penalty', seed: 'seed' };
    for (const [key, name] of Object.entries(attributes)) {
      const value = this.getAttribute(name);
      if (value !== null && value.trim() !== '' && Number.isFinite(Number(value))) options[key] = Number(value);
    }
    return options;
  }

  get maxTokens() { return Math.max(1, Math.round(Number(this.getAttribute('max-tokens'))) || 512); }

  /** Passages searched per question (attribute `k`, default 3). */
  get k() { return Math.max(1, Math.round(Number(this.getAttribute('k'))) || 3); }

  async #answer(item, before) {
    try {
      await this.load();
    } catch {
      if (before) {
        this.messages.push({ role: 'assistant', content: before });
      } else {
        item.remove();
        this.messages.pop();
      }
      return null;
    }
    const controller = new AbortController();
    this.generating = controller;
    this.ui.send.hidden = true;
    this.ui.stop.hidden = false;
    let answer = before;
    let result = null;
    try {
      const system = this.getAttribute('system');
      const conversation = system ? [{ role: 'system', content: system }, ...this.messages] : [...this.messages];
      if (before) conversation.push({ role: 'assistant', content: before });
      result = await this.lm.chat(conversation, {
        ...this.samplingOptions(),
        ...(this.knowledge ? { knowledge: this.knowledge, k: this.k } : {}),
        maxTokens: this.maxTokens,
        continue: Boolean(before),
        signal: controller.signal,
        onToken: (piece) => { answer += piece; item.textContent = answer.trim() || '…'; this.ui.log.scrollTop = this.ui.log.scrollHeight; },
      });
      answer = before + result.text;
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
    if (item.classList.contains('error')) {
      if (before) this.messages.push({ role: 'assistant', content: before }); // the answer so far stays
      else this.messages.pop();
      return answer;
    }
    this.messages.push({ role: 'assistant', content: answer });
    const sources = result?.sources ?? null;
    if (sources) this.#showSources(item, sources);
    if (result?.reason === 'length') this.#lengthNotice(result);
    if (result?.sampling) this.#showSampling(result.sampling);
    this.dispatchEvent(new CustomEvent('tinylm-answer', { detail: { text: answer.trim(), reason: result?.reason ?? 'stopped', sampling: result?.sampling ?? null, sources } }));
    return answer.trim();
  }

  /**
   * Links to the pages the answer's passages came from, under the answer: one per page, best
   * first (the passage's heading in the tooltip). Only http(s) URLs become links.
   */
  #showSources(item, sources) {
    item.sourcesElement?.remove();
    const list = document.createElement('li');
    list.className = 'sources';
    list.setAttribute('part', 'sources');
    const label = document.createElement('span');
    label.textContent = sources.length ? 'Sources:' : 'No matching page found.';
    list.append(label);
    const seen = new Set();
    for (const source of sources) {
      if (seen.has(source.documentId)) continue;
      seen.add(source.documentId);
      let url = null;
      try { url = source.url ? new URL(source.url, this.knowledgeURL ?? location.href) : null; } catch { url = null; }
      const link = document.createElement(url && /^https?:$/.test(url.protocol) ? 'a' : 'span');
      if (link.tagName === 'A') link.href = url.href;
      link.textContent = source.title || source.url || source.documentId;
      link.title = [source.heading, `score ${source.score.toFixed(3)}`].filter(Boolean).join(' · ');
      link.dataset.documentId = source.documentId;
      list.append(link);
    }
    item.after(list);
    item.sourcesElement = list;
  }

  /** The length limit ended the answer: say so, and offer to go on with it. */
  #lengthNotice(result) {
    const notice = document.createElement('li');
    notice.className = 'notice';
    notice.setAttribute('part', 'notice');
    const text = document.createElement('span');
    text.textContent = `The answer stopped at the length limit (${result.tokens.length} tokens).`;
    const more = document.createElement('button');
    more.type = 'button';
    more.className = 'continue secondary';
    more.textContent = 'Continue';
    more.addEventListener('click', () => this.continue());
    notice.append(text, more);
    this.ui.log.append(notice);
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
  }

  /**
   * Shows the sampling settings: those of the last answer (`used`: result.sampling, seed
   * included), or before any answer the model's recommendation with the attributes' overrides.
   */
  #showSampling(used = null) {
    const recommended = this.lm?.loaded?.sampling ?? null;
    const settings = used ?? { ...(recommended ?? {}), ...this.samplingOptions() };
    const names = { temperature: 'temperature', topK: 'top-k', topP: 'top-p', minP: 'min-p', repeatPenalty: 'repeat penalty' };
    const parts = Object.entries(names).filter(([key]) => settings[key] !== undefined).map(([key, name]) => `${name} ${settings[key]}`);
    parts.push(settings.seed !== undefined ? `seed ${settings.seed}${used && !this.hasAttribute('seed') ? ' (random)' : ''}` : 'random seed');
    parts.push(`up to ${this.maxTokens} tokens`);
    const source = { gguf: "the model file's recommendation", table: "TinyLM's table for this model", default: 'default settings' }[recommended?.source]
      ?? (recommended ? 'the model' : "the box's defaults");
    this.ui.sampling.textContent = `${used ? 'Last answer' : 'Sampling'}: ${parts.join(', ')} · from ${source} unless set on the element`;
    this.ui.sampling.hidden = false;
    this.ui.text.title = this.ui.sampling.textContent;
  }

  async #prepare() {
    const url = this.getAttribute('model');
    if (!url) return this.#status('Set the model attribute to the URL of a GGUF file.');
    // Stored models cost nothing to open; a download waits for the visitor (or `autoload`).
    const files = [url, ...(this.getAttribute('knowledge') && this.getAttribute('embedder') ? [this.getAttribute('embedder')] : [])]
      .map((file) => new URL(file, location.href).href);
    const stored = await Promise.all(files.map((file) => modelStore.has(file).catch(() => false)));
    if (this.hasAttribute('autoload') || stored.every(Boolean)) return this.load().catch(() => {});
    this.#status('This chat runs a small AI model in your browser. It is downloaded once, then works offline.');
    this.ui.load.hidden = false;
    const sizes = await Promise.all(files.filter((_, i) => !stored[i])
      .map((file) => fetch(file, { method: 'HEAD' }).then((r) => Number(r.headers.get('Content-Length')) || 0).catch(() => 0)));
    const size = sizes.every(Boolean) ? sizes.reduce((a, b) => a + b, 0) : 0;
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
