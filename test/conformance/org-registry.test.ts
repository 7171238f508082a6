/**
 * The org registry the operator page lists orgs from, under load: orgs made at once by
 * different people each answer 201 and each is listed. (It was one shared record once,
 * and creations at once retried each other into a 503 on the networked stores.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
before(async () => {
  worker = await startWorker({ LATCHKEY_OPERATORS: 'op@registry.example' });
});
after(() => worker?.stop());

test('forty orgs made at once by forty people: every one 201, every one on the operator page', async () => {
  // Signed in one after another: forty code lookups at once from one address are forty guesses in flight.
  const people = [];
  for (let n = 0; n < 40; n++) people.push(await deviceLogin(worker.url, `rush${n}@registry.example`));
  const answers = await Promise.all(
    people.map((person, n) => apiJsonCall(worker.url, 'POST', '/v1/orgs', person.access_token, { slug: `rush-${n}` })),
  );
  assert.deepEqual(
    answers.map((answer) => answer.status),
    answers.map(() => 201),
    answers.map((answer) => answer.text).join('\n'),
  );
  const page = await (await consolePerson(worker.url, 'op@registry.example')).get('/console/operator');
  assert.equal(page.status, 200);
  const listed = [...page.html.matchAll(/<tr data-org="([^"]+)"/g)].map((match) => match[1]);
  assert.deepEqual(listed.toSorted(), people.map((_, n) => `rush-${n}`).toSorted());
});
