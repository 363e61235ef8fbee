// What the AI-notes page lets the model write, built from the text itself, so that the note
// says only what the text supports. Asked for "the date if one is given", a 135M model invents
// one; asked for tags and action items, it leaves them empty, or (made to write some) copies
// words of its instructions. So the schema leaves the model the title and the choice of tags,
// and fixes the rest from the text:
//   title        the model's, a few words;
//   date         read here (ISO dates, "4 December 2026", "Dec 4", today, tomorrow, weekdays)
//                and fixed in the schema (const), or null when the text names no day;
//   tags         one to three, chosen by the model among the text's own content words;
//   actionItems  the text's tasks, fixed in the schema: each clause that starts with a task
//                verb ("Call the plumber…", "…and buy washers") or follows "need to",
//                "remember to"…; none when the text asks for nothing.
// Pure functions (no DOM), so Node tests can check them (Tests/web/note-schema.test.mjs).

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTH = '(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)';

// Verbs that start a task ("Call the plumber", "…and buy washers"), and phrases that announce one.
const TASK_VERBS = ['call', 'phone', 'ring', 'email', 'e-mail', 'text', 'write', 'send', 'buy', 'order', 'book', 'pay', 'fix',
  'repair', 'clean', 'finish', 'submit', 'schedule', 'plan', 'prepare', 'pick up', 'bring', 'return', 'check', 'ask', 'tell',
  'remind', 'meet', 'visit', 'renew', 'cancel', 'update', 'review', 'read', 'print', 'sign', 'reply', 'answer', 'collect',
  'deliver', 'post', 'mail', 'file', 'invite', 'organize', 'organise', 'arrange', 'water', 'feed', 'walk', 'wash', 'cook', 'get'];
const TASK_VERB = `(?:${TASK_VERBS.join('|')})\\b`;
const STARTS_WITH_TASK = new RegExp(`^(?:please\\s+|also\\s+)?${TASK_VERB}`, 'i');
const TASK_PHRASE = /\b(?:needs? to|have to|has to|must|should|remember to|don'?t forget to|do not forget to)\s+(.+)$/i;
// Clauses end at sentence punctuation, and at "and"/"then"/a comma only before another task verb
// ("buy salt and pepper" stays one task).
const CLAUSE_END = new RegExp(`\\s*[.;!?]+\\s*|(?:,\\s*|\\s+)(?:and|then)\\s+(?=${TASK_VERB})|,\\s*(?=${TASK_VERB})`, 'i');

// Words never offered as tags: function words and the task verbs themselves.
const NOT_TAGS = new Set(['the', 'and', 'about', 'with', 'from', 'that', 'this', 'have', 'will', 'your', 'into', 'last', 'next',
  'when', 'what', 'which', 'there', 'their', 'them', 'then', 'than', 'were', 'been', 'before', 'after', 'over', 'under', 'also',
  'just', 'only', 'very', 'more', 'most', 'some', 'such', 'other', 'each', 'every', 'need', 'needs', 'must', 'should',
  'remember', 'forget', 'don\'t', 'please', 'today', 'tomorrow', 'tonight', 'morning', 'evening', 'afternoon',
  ...TASK_VERBS, ...MONTHS, ...WEEKDAYS]);

function isoDate(year, month, day) {
  const date = new Date(Date.UTC(year, month, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month || date.getUTCDate() !== day) return null;
  return date.toISOString().slice(0, 10);
}

function monthIndex(name) {
  return MONTHS.findIndex((month) => month.startsWith(name.toLowerCase().slice(0, 3)));
}

/** The next `month`/`day` on or after `today` when the text gives no year. */
function nextOccurrence(today, month, day) {
  const year = today.getFullYear();
  const thisYear = isoDate(year, month, day);
  const todayISO = isoDate(year, today.getMonth(), today.getDate());
  return thisYear && thisYear >= todayISO ? thisYear : isoDate(year + 1, month, day);
}

/**
 * The day `text` names, as YYYY-MM-DD, or null when it names none. Relative days (today,
 * tomorrow, a weekday: the next one after today) count from `today`.
 */
export function findDate(text, today = new Date()) {
  let match = text.match(/\b(\d{4})-(\d{2})-(\d{2})\b/);
  if (match) return isoDate(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  match = text.match(new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?(?:\\s+of)?\\s+${MONTH}\\.?(?:,?\\s+(\\d{4}))?\\b`, 'i'));
  if (match) {
    const [, day, month, year] = match;
    return year ? isoDate(Number(year), monthIndex(month), Number(day)) : nextOccurrence(today, monthIndex(month), Number(day));
  }
  match = text.match(new RegExp(`\\b${MONTH}\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?\\b(?:,?\\s+(\\d{4}))?`, 'i'));
  if (match) {
    const [, month, day, year] = match;
    return year ? isoDate(Number(year), monthIndex(month), Number(day)) : nextOccurrence(today, monthIndex(month), Number(day));
  }
  const shifted = (days) => isoDate(today.getFullYear(), today.getMonth(), today.getDate() + days);
  if (/\b(?:the )?day after tomorrow\b/i.test(text)) return shifted(2);
  if (/\btomorrow\b/i.test(text)) return shifted(1);
  if (/\b(?:today|tonight|this (?:morning|afternoon|evening))\b/i.test(text)) return shifted(0);
  match = text.match(new RegExp(`\\b(${WEEKDAYS.join('|')})\\b`, 'i'));
  if (match) {
    const ahead = (WEEKDAYS.indexOf(match[1].toLowerCase()) - today.getDay() + 7) % 7 || 7;
    return shifted(ahead);
  }
  return null;
}

/** The tasks `text` asks for, one clause each, as written (capitalized); at most four. */
export function actionItems(text) {
  const items = [];
  for (const clause of text.split(CLAUSE_END)) {
    let task = clause.trim();
    const phrase = task.match(TASK_PHRASE);
    if (phrase) task = phrase[1].trim();
    else if (!STARTS_WITH_TASK.test(task)) continue;
    task = task.replace(/^(?:please|also)\s+/i, '');
    task = task.charAt(0).toUpperCase() + task.slice(1);
    if (task.length >= 3 && !items.includes(task)) items.push(task);
  }
  return items.slice(0, 4);
}

/** Whether `text` asks for something to be done. */
export function asksForAction(text) {
  return actionItems(text).length > 0;
}

/** The content words of `text` the model may choose tags from (lowercase, first-seen order). */
export function tagCandidates(text) {
  const words = text.toLowerCase().match(/[a-z][a-z'-]*[a-z]/g) ?? [];
  return [...new Set(words.filter((word) => word.length >= 4 && !NOT_TAGS.has(word)))].slice(0, 24);
}

/** The JSON schema of a note about `text` (see the top of this file). */
export function noteSchema(text, today = new Date()) {
  const date = findDate(text, today);
  const candidates = tagCandidates(text);
  return {
    type: 'object',
    properties: {
      title: { type: 'string', minLength: 3, maxLength: 48 },
      date: date ? { const: date } : { type: 'null' },
      tags: {
        type: 'array', minItems: 1, maxItems: 3,
        items: candidates.length ? { enum: candidates } : { type: 'string', minLength: 2, maxLength: 20 },
      },
      actionItems: { const: actionItems(text) },
    },
    required: ['title', 'date', 'tags', 'actionItems'],
  };
}

/** The system prompt: the title and the tags are the model's to write. */
export const NOTE_PROMPT = 'You turn a note into JSON. "title" names the note\'s topic in three to six words, like a headline, ' +
  'without dates or numbers. "tags" are one to three keywords of the note.';

/** The model's JSON for `text`, tidied: the same tag chosen twice is kept once. */
export function tidyNote(note) {
  return { ...note, tags: [...new Set(note.tags)] };
}
