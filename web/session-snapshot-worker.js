// The Worker's side of saved conversations (worker.js adds these request handlers): saving the
// session's chat state after an answer as a snapshot in IndexedDB (session-snapshots.js), and
// restoring it when the page reopens the conversation, so that the next answer evaluates only
// the new message.
//
// Requests (tinylm.js's saveSession/restoreSession are the client):
//   {type: 'saveSession'} → {saved: true, key, bytes, tokens, ms} | {saved: false, reason}
//   {type: 'restoreSession', messages, chatOptions} → {restored: true, tokens, bytes, ms,
//      alreadyCached} | {restored: false, reason}
//
// The chat state is worker.js's chatCache {promptText, promptIDs, replyIDs, template}: the last
// turn's rendered prompt, its ids, the answer's ids the session evaluated. A reopened
// conversation (messages ending with that answer) renders the same promptText from its
// messages before the answer; that finds the snapshot. After restoring, the next chat request
// extends the cached ids as in the same page (worker.js chatCacheIDs), so an answer the page
// edited since only loses the cache from the edit on.

import { SessionSnapshotStore, snapshotScope } from './session-snapshots.js';

/** The handlers, given `requireModel()` (worker.js's loaded state, mutable). */
export function sessionSnapshotHandlers({ requireModel, store = new SessionSnapshotStore() }) {
  async function scopeOf(state, template) {
    // Adapters: the web API applies none yet; their ids join the scope when it does.
    return snapshotScope({ model: state.model.fingerprint, adapters: '', template: template ?? '' });
  }

  return {
    async saveSession() {
      const state = requireModel();
      const cache = state.chatCache;
      if (!cache) return { saved: false, reason: 'no chat answer to save (the last request was not a chat, or the session changed since)' };
      if (state.session.tokenCount !== cache.promptIDs.length + cache.replyIDs.length) {
        return { saved: false, reason: 'the session no longer holds the last chat answer' };
      }
      const started = performance.now();
      const bytes = state.session.saveSnapshot({ template: cache.template ?? '' });
      // The previous turn's snapshot of the same conversation is superseded (not another one's).
      const previous = state.snapshot && cache.promptText.startsWith(state.snapshot.promptText) ? state.snapshot.key : null;
      const key = await store.put({ scope: await scopeOf(state, cache.template), ...cache }, bytes, { replaces: previous });
      state.snapshot = { key, promptText: cache.promptText };
      return { saved: true, key, bytes: bytes.byteLength, tokens: cache.promptIDs.length + cache.replyIDs.length, ms: performance.now() - started };
    },

    async restoreSession({ messages, chatOptions = {} }) {
      const state = requireModel();
      const started = performance.now();
      if (!Array.isArray(messages)) return { restored: false, reason: 'messages must be an array' };
      let last = messages.length - 1;
      while (last >= 0 && messages[last]?.role !== 'assistant') last--;
      if (last < 0) return { restored: false, reason: 'the conversation has no answer yet' };
      const { continue: _continuing, tools, toolChoice, ...options } = chatOptions;
      if (tools) return { restored: false, reason: 'tool-calling chats are not cached' };
      const promptText = state.model.formatChat(messages.slice(0, last), { ...options, addGenerationPrompt: true });
      const cache = state.chatCache;
      // The session already holds this conversation, or a later turn of it (a question sent meanwhile).
      if (cache && cache.promptText.startsWith(promptText) && state.session.tokenCount === cache.promptIDs.length + cache.replyIDs.length) {
        return { restored: true, alreadyCached: true, tokens: state.session.tokenCount, bytes: 0, ms: performance.now() - started };
      }
      const found = await store.find(await scopeOf(state, options.template), promptText);
      if (!found) return { restored: false, reason: 'no snapshot of this conversation' };
      const { record, bytes } = found;
      let count;
      try {
        count = state.session.restoreSnapshot(bytes, { template: options.template ?? '' });
      } catch (error) {
        if (error.name !== 'SnapshotMismatchError' && error.name !== 'InvalidSnapshotError') throw error;
        await store.delete(record.key);
        return { restored: false, reason: `${error.name}: ${error.message}` };
      }
      if (count !== record.promptIDs.length + record.replyIDs.length) {
        // A record that does not describe its snapshot: forget both.
        state.session.reset();
        state.chatCache = null;
        await store.delete(record.key);
        return { restored: false, reason: 'the snapshot does not match its record' };
      }
      state.chatCache = { promptText, promptIDs: record.promptIDs, replyIDs: record.replyIDs, template: options.template ?? null };
      state.snapshot = { key: record.key, promptText };
      await store.touch(record.key);
      return { restored: true, alreadyCached: false, tokens: count, bytes: bytes.byteLength, ms: performance.now() - started };
    },
  };
}
