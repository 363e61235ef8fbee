// Mistakes the declarations must catch: each line below is an error that `// @ts-expect-error`
// expects, so `tsc -p Tests/types` fails if a declaration became too loose to see it.

import { TinyLM } from '../../web/tinylm.js';

export async function mistakes(lm: TinyLM): Promise<void> {
  // @ts-expect-error a mistyped option (the runtime rejects it too: InvalidArgumentError)
  await lm.generate('Hi', { temprature: 0 });
  // @ts-expect-error maxTokens is a number
  await lm.chat([{ role: 'user', content: 'Hi' }], { maxTokens: '2' });
  // @ts-expect-error the OpenAI request spells it max_tokens
  await lm.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 2 });
  // @ts-expect-error n must be 1
  await lm.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], n: 2 });
  const completion = await lm.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] });
  // @ts-expect-error content may be null (a tool call)
  const text: string = completion.choices[0]!.message.content;
  console.log(text);
  const stream = await lm.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], stream: true });
  // @ts-expect-error a stream has no choices: iterate it
  console.log(stream.choices);
  // @ts-expect-error sharedEngine is true or false
  new TinyLM({ sharedEngine: 'yes' });
}
