// The AI-notes page's schema (web/app/note-schema.js): a date only when the text names a day,
// the text's own tasks as action items, tags among the text's words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findDate, actionItems, tagCandidates, noteSchema, tidyNote } from '../../web/app/note-schema.js';

const today = new Date(2026, 11, 1); // Tuesday 1 December 2026 (local time, as the page uses)

test('explicit dates are read as written', () => {
  assert.equal(findDate('Call the plumber on 2026-12-04 about the sink', today), '2026-12-04');
  assert.equal(findDate('Dentist on 4 December 2026 at nine', today), '2026-12-04');
  assert.equal(findDate('Party on March 3rd, 2027', today), '2027-03-03');
  assert.equal(findDate('Invoice due 2026-02-30', today), null); // no such day
});

test('dates without a year are the next such day', () => {
  assert.equal(findDate('Renew the passport by Jan 15', today), '2027-01-15');
  assert.equal(findDate('Choir concert 24 December', today), '2026-12-24');
});

test('relative days count from today', () => {
  assert.equal(findDate('Buy bread today', today), '2026-12-01');
  assert.equal(findDate('Call mum tomorrow', today), '2026-12-02');
  assert.equal(findDate('Meeting the day after tomorrow', today), '2026-12-03');
  assert.equal(findDate('Call the plumber on Friday', today), '2026-12-04');
  assert.equal(findDate('Team lunch on Tuesday', today), '2026-12-08'); // the next one, not today
});

test('a text without a day has no date', () => {
  for (const text of ['Buy washers and call the plumber about the kitchen sink', 'The garden needs more light',
    'Ideas for the bakery website: a menu page and opening hours']) {
    assert.equal(findDate(text, today), null, text);
    assert.deepEqual(noteSchema(text, today).properties.date, { type: 'null' });
  }
  assert.deepEqual(noteSchema('Call the plumber on 2026-12-04', today).properties.date, { const: '2026-12-04' });
});

test('action items are the tasks the text asks for, one clause each', () => {
  assert.deepEqual(actionItems('Buy washers and call the plumber about the leaking kitchen sink'),
    ['Buy washers', 'Call the plumber about the leaking kitchen sink']);
  assert.deepEqual(actionItems('Buy salt and pepper, then call mum'), ['Buy salt and pepper', 'Call mum']);
  assert.deepEqual(actionItems('We need to renew the car insurance. Please send the invoice.'),
    ['Renew the car insurance', 'Send the invoice']);
  assert.deepEqual(actionItems('The concert last night was wonderful'), []);
  assert.deepEqual(actionItems('Ideas for the bakery website: a menu page and opening hours'), []);
  assert.deepEqual(noteSchema('The concert was wonderful', today).properties.actionItems, { const: [] });
});

test('tags are chosen among the content words of the text, each once', () => {
  assert.deepEqual(tagCandidates('Call the plumber about the kitchen sink and buy washers'), ['plumber', 'kitchen', 'sink', 'washers']);
  assert.deepEqual(noteSchema('The violinist played Bach', today).properties.tags.items, { enum: ['violinist', 'played', 'bach'] });
  assert.deepEqual(tidyNote({ title: 'x', tags: ['bach', 'bach'] }).tags, ['bach']);
});
