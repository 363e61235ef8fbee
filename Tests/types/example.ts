// Uses every call of TinyLM's public API with its types (web/*.d.ts). Never run: `tsc -p
// Tests/types` (scripts/test.sh) checks that it compiles under --strict, so the declarations
// cover the whole API and a page written against them type-checks.

import { TinyLM, modelStore, formatBytes, openAIError } from '../../web/tinylm.js';
import type {
  ChatMessage, ChatResult, GenerateResult, Loaded, Status, TinyLMError, Tool,
} from '../../web/tinylm.js';
import { KnowledgeBase, documentFormat, documentId } from '../../web/knowledge-base.js';
import type { SearchHit, DocumentSummary } from '../../web/knowledge-base.js';
import type { Embedder } from '../../web/embedder.js';
import type { ChatCompletion, ChatCompletionChunk, Completion, CreateEmbeddingResponse, OpenAIError } from '../../web/openai.js';
import { checkOptions, closestName, GENERATION_OPTIONS } from '../../web/protocol.js';

export async function everyCall(file: File): Promise<void> {
  const lm: TinyLM = await TinyLM.load('models/SmolLM2-135M-Instruct.Q4_1.gguf', {
    threads: 2, relaxedSimd: true, contextLength: 1024, sha256: null,
    onProgress: ({ phase, done, total }) => console.log(phase, done / total),
  });
  const other = new TinyLM({ workerURL: new URL('./worker.js', location.href), adaptiveThreads: false });
  const ownEngine = await TinyLM.load('models/SmolLM2-135M-Instruct.Q4_1.gguf', { sharedEngine: false });
  const engineStatus: Status = await lm.status();
  console.log(engineStatus.sharedEngine?.tabs, engineStatus.sharedEngine?.modelLoads, ownEngine.loaded?.threads);
  const loaded: Loaded = await other.load(file, { store: false, signal: new AbortController().signal });
  console.log(loaded.simd, loaded.threads, loaded.sampling?.temperature, lm.info?.name, TinyLM.store === modelStore);

  // TinyLM's own calls.
  const generated: GenerateResult = await lm.generate('Once upon a time', {
    temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, repeatPenalty: 1.1, repeatWindow: 64, seed: 1, maxTokens: 20,
    stop: ['\n'], ignoreEOS: false, onToken: (text, token) => console.log(text, token),
  });
  console.log(generated.text, generated.reason, generated.usage.reusedTokens, generated.timings.tokensPerSecond, generated.sampling.seed);
  await lm.generate([1, 2, 3], { grammar: 'root ::= "yes" | "no"' });
  await lm.generate('JSON:', { responseFormat: { type: 'json_schema', schema: { type: 'object' } } });

  const messages: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi!' }];
  const answer: ChatResult = await lm.chat(messages, { maxTokens: 40, responseFormat: { type: 'json_object' } });
  const tools: Tool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
  const call = await lm.chat(messages, { tools, toolChoice: 'required' });
  console.log(answer.text, call.toolCalls?.[0]?.function.arguments);
  await lm.chat([...messages, { role: 'assistant', content: answer.text }], { continue: true, template: '{{ messages }}' });

  for await (const { text, token } of lm.stream('The capital of France is', { maxTokens: 8 })) console.log(text, token);
  const stream = lm.streamChat(messages, { temperature: 0, tools, toolChoice: 'auto' });
  let callArguments = '';
  for await (const piece of stream) {
    console.log(piece.text, piece.content ?? '');
    for (const delta of piece.toolCalls ?? []) {
      if (delta.id) console.log(delta.index, delta.type, delta.function.name);
      callArguments += delta.function.arguments;
    }
  }
  const streamed = await stream.result;
  console.log(streamed.toolCalls?.[0]?.function.arguments === callArguments, streamed.content);
  await lm.chat(messages, { tools, toolChoice: { type: 'function', function: { name: 'get_weather' } } });
  await lm.chat(messages, { tools, toolChoice: 'none', onToken: (text, token, piece) => console.log(text, token, piece.content) });

  const saved = await lm.saveSession();
  if (saved.saved) console.log(saved.bytes);
  const restored = await lm.restoreSession(messages);
  if (!restored.restored) console.log(restored.reason);
  const persona = await lm.loadAdapter('adapters/persona.gguf', { sha256: null, onProgress: (p) => console.log(p.phase) });
  const rank: number = persona.info.maxRank;
  await lm.chat(messages, { adapters: [{ adapter: persona, scale: 0.5 + rank * 0 }] });
  await lm.unloadAdapter(persona);
  const update = await TinyLM.checkForUpdate('models/model.gguf', { publicKey: null });
  console.log(update);
  const count: number = await lm.countTokens(messages, { addGenerationPrompt: true });
  const textCount: number = await lm.countTokens('Hello');
  const ids: number[] = await lm.tokenize('Hello', { addSpecial: false });
  const text: string = await lm.detokenize(ids);
  const prompt: string = await lm.formatChat(messages, { tools });
  const status: Status = await lm.status();
  console.log(count, textCount, text, prompt, status.memoryBytes, status.cachedTokens);
  await lm.testHook('failWrites', null);

  // Embeddings and knowledge.
  const embedder: Embedder = await lm.loadEmbedder('models/all-MiniLM-L6-v2.gguf', { onProgress: (p) => console.log(p.phase) });
  const alone: Embedder = await TinyLM.loadEmbedder('models/all-MiniLM-L6-v2.gguf', { threads: 1 });
  const vector: Float32Array = await embedder.embed('one text');
  const vectors: Float32Array[] = await alone.embed(['two', 'texts'], { pooling: 'mean' });
  const detailed = await embedder.embedDetailed(['three'], {});
  console.log(vector.length, vectors.length, detailed.truncated[0], embedder.dimensions, embedder.info.fingerprint);
  const kb = await KnowledgeBase.open('notes', { embedder, storage: 'memory', vectorForm: 'int8', chunkTokens: 160 });
  const added: DocumentSummary[] = await kb.add([{ title: 'Hours', text: 'Open 9 to 5.', format: 'text' }], {
    onProgress: ({ done, total }) => console.log(done, total),
  });
  const hits: SearchHit[] = await kb.search('When are you open?', { k: 2 });
  const grounded = await lm.chat([{ role: 'user', content: 'When are you open?' }], { knowledge: kb, k: 2 });
  console.log(added[0]?.chunks, hits[0]?.score, grounded.sources?.[0]?.title, kb.documents.length, kb.embedderIdentity.name);
  const exported: Uint8Array = await kb.export();
  const fromFile = await KnowledgeBase.fromFile(exported, { embedder });
  await fromFile.import(exported);
  await kb.remove('Hours');
  await kb.close();
  await KnowledgeBase.delete('notes');
  console.log(documentFormat({ name: 'a.md' }), documentId({ text: 'x' }));
  await alone.unload();

  // The OpenAI-compatible calls.
  const completion: ChatCompletion = await lm.chat.completions.create({
    model: 'gpt-4o-mini', messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    max_tokens: 40, temperature: 0.7, top_p: 0.9, seed: 1, stop: ['\n'],
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
  });
  const content: string | null = completion.choices[0]!.message.content;
  const withTools = await lm.chat.completions.create({ messages: [{ role: 'user', content: 'Weather?' }], tools, tool_choice: 'auto', n: 1 });
  const toolCall = withTools.choices[0]!.message.tool_calls?.[0];
  await lm.chat.completions.create({ messages: [
    { role: 'user', content: 'Weather?' }, withTools.choices[0]!.message,
    { role: 'tool', tool_call_id: toolCall?.id ?? '', content: '{"sky": "clear"}' },
  ] });
  const chunks = await lm.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } },
    { signal: new AbortController().signal });
  for await (const chunk of chunks) {
    const c: ChatCompletionChunk = chunk;
    console.log(c.choices[0]?.delta.content ?? '', c.choices[0]?.finish_reason, c.usage?.total_tokens);
  }
  // A streamed call: the first delta names it, later ones carry fragments of its arguments.
  for await (const chunk of await lm.chat.completions.create({ messages: [{ role: 'user', content: 'Weather?' }], tools, stream: true })) {
    for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) console.log(delta.index, delta.id, delta.function?.name, delta.function?.arguments);
  }
  chunks.controller.abort();
  const legacy: Completion = await lm.completions.create({ prompt: 'Once upon a time', max_tokens: 16, echo: true });
  for await (const piece of await lm.completions.create({ prompt: [1, 2, 3], stream: true })) console.log(piece.choices[0]?.text);
  const embeddings: CreateEmbeddingResponse = await lm.embeddings.create({ input: ['a', 'b'], model: 'text-embedding-3-small' });
  const encoded = await lm.embeddings.create({ input: 'a', encoding_format: 'base64' });
  const base64: string = encoded.data[0]!.embedding;
  const models = await lm.models.list();
  console.log(content, legacy.choices[0]?.text, embeddings.data[0]?.embedding.length, base64, models.data[0]?.id, (await lm.models.retrieve('x')).owned_by);

  // Errors: TinyLM's names, the API's fields.
  try {
    await lm.chat.completions.create({ messages: [] });
  } catch (error) {
    const e = openAIError(error) as OpenAIError;
    const tiny = e as TinyLMError;
    console.log(e.type, e.code, e.param, e.status, e.error.message, tiny.name, tiny.suggestion, tiny.partial?.text);
  }
  checkOptions({ temperature: 1 }, GENERATION_OPTIONS, 'generate()');
  console.log(closestName('temprature', Object.keys(GENERATION_OPTIONS)), formatBytes(1024));

  // Published model versions (file manifests).
  const check = await TinyLM.checkForUpdate('models/SmolLM2-135M-Instruct.Q4_1.gguf', { publicKey: null });
  if (check.available) console.log((await TinyLM.update('models/SmolLM2-135M-Instruct.Q4_1.gguf', { onProgress: (p) => console.log(p.done) })).version);
  await TinyLM.load('models/x.gguf', { manifest: false, revalidateInterval: 60_000 });

  // Storage.
  const stored = await modelStore.list();
  console.log(stored[0]?.complete, await modelStore.has('models/x.gguf'), (await modelStore.usage()).quota, await modelStore.persist());
  await modelStore.delete(stored[0]?.id ?? '');
  await lm.unload();
  lm.terminate();
  other.terminate();
}
