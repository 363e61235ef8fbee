// The assistant's LoRA adapters: the user adds adapter files (.gguf in llama.cpp's adapter form;
// TinyLM checks each against the loaded model and keeps it in IndexedDB, adapters.js) and picks
// one per conversation in the header's menu; that conversation's answers apply it.

import { adapterStore, formatBytes } from '../tinylm.js';

const NONE = '';
const ADD = '__add__';

export class AdapterPicker {
  /**
   * select: the <select>; fileInput: a hidden <input type=file>; getLM(): the app's TinyLM (or
   * null); onPick(id): the user chose an adapter id (NONE: none) for the conversation;
   * onError(error): adding a file failed.
   */
  constructor({ select, fileInput, getLM, onPick, onError }) {
    Object.assign(this, { select, fileInput, getLM, onPick, onError });
    this.handles = new WeakMap(); // TinyLM → Map(id → adapter handle)
    this.current = NONE;
    select.addEventListener('change', () => {
      if (select.value === ADD) {
        select.value = this.current;
        fileInput.click();
        return;
      }
      this.current = select.value;
      onPick(this.current);
    });
    fileInput.addEventListener('change', async () => {
      const file = fileInput.files?.[0];
      fileInput.value = '';
      if (file) await this.add(file);
    });
  }

  /** Adds a picked file: loaded against the model (which checks it) and stored. */
  async add(file) {
    const lm = this.getLM();
    try {
      if (!lm?.loaded) throw Object.assign(new Error('load a model before adding an adapter'), { name: 'InvalidStateError' });
      const handle = await lm.loadAdapter(file);
      this.#cache(lm).set(handle.id, handle);
      await this.show(handle.id);
      this.onPick(handle.id);
    } catch (error) {
      this.onError(error);
    }
  }

  /** Fills the menu with the stored adapters and selects `id` (NONE: no adapter). */
  async show(id = this.current) {
    this.select.value = id; // at once (when listed already); the stored list may have changed below
    const stored = (await adapterStore.list()).filter((record) => record.complete);
    const options = [new Option('No adapter', NONE)];
    for (const record of stored) options.push(new Option(`${record.name ?? record.id} (${formatBytes(record.size)})`, record.id));
    options.push(new Option('Add adapter file…', ADD));
    this.select.replaceChildren(...options);
    this.current = stored.some((record) => record.id === id) ? id : NONE;
    this.select.value = this.current;
  }

  /** generate()/chat()'s `adapters` option for adapter `id` (NONE: undefined, the base model). */
  async options(id) {
    if (!id) return undefined;
    const lm = this.getLM();
    const cache = this.#cache(lm);
    if (!cache.has(id)) cache.set(id, await lm.loadAdapter(id));
    return [{ adapter: cache.get(id), scale: 1 }];
  }

  #cache(lm) {
    if (!this.handles.has(lm)) this.handles.set(lm, new Map());
    return this.handles.get(lm);
  }
}
