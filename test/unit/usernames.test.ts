import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalUsername, usernameProblem } from '../../src/auth/usernames.js';

describe('canonicalUsername', () => {
  it('case-folds and trims', () => {
    assert.equal(canonicalUsername('  Alice '), 'alice');
    assert.equal(canonicalUsername('ALICE'), 'alice');
  });
  it('maps compatibility forms to one name (NFKC): full-width letters', () => {
    assert.equal(canonicalUsername('ａｌｉｃｅ'), 'alice');
  });
  it('maps the ligature ﬁ to "fi" so "ﬁnance" and "finance" are one account', () => {
    assert.equal(canonicalUsername('ﬁnance'), 'finance');
  });
  it('keeps letters of other scripts', () => {
    assert.equal(canonicalUsername('Zoë'), 'zoë');
    assert.equal(canonicalUsername('Ｚｏë'), 'zoë');
  });
});

describe('usernameProblem', () => {
  it('accepts ordinary names and emails', () => {
    assert.equal(usernameProblem('alice'), null);
    assert.equal(usernameProblem('alice.smith@example.com'), null);
    assert.equal(usernameProblem('j_doe-2'), null);
  });
  it('refuses empty, spaces, control characters, separators and over-long names', () => {
    for (const bad of ['', '   ', 'al ice', 'al\tice', 'a,b', 'a:b', 'a\u0000b', '.alice', 'x'.repeat(65)]) {
      assert.notEqual(usernameProblem(bad), null, JSON.stringify(bad));
    }
  });
});
