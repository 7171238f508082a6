/**
 * Claim globs. Anchored at both ends; `*` matches any run of characters within one
 * segment — never `/` or `:`, the separators of `repo:acme/app:ref:refs/heads/main` — and
 * `**` matches anything, separators included. Every other character is literal, so a
 * pattern that says `repo:acme/app*` matches `repo:acme/app-evil` only because it says so.
 */

const cache = new Map<string, RegExp>();

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*');
}

export function compileGlob(pattern: string): RegExp {
  let compiled = cache.get(pattern);
  if (!compiled) {
    const source = pattern
      .split(/(\*\*|\*)/u)
      .map((part) => {
        if (part === '**') return '.*';
        if (part === '*') return '[^/:]*';
        return part.replace(/[\\^$.|?+()[\]{}]/gu, '\\$&');
      })
      .join('');
    // `s`: `**` also crosses line breaks; `u`: a claim's astral characters are one each.
    compiled = new RegExp(`^${source}$`, 'su');
    cache.set(pattern, compiled);
  }
  return compiled;
}

export function matchesGlob(pattern: string, value: string): boolean {
  return hasWildcard(pattern) ? compileGlob(pattern).test(value) : pattern === value;
}

// Made of wildcards and separators only (such as "*", "**", "**:**"): says nothing.
export function matchesEverything(pattern: string): boolean {
  return hasWildcard(pattern) && /^[*/:]+$/u.test(pattern);
}

/**
 * Names an owner: an exact value, or a glob whose fixed part before the first wildcard
 * reaches a `/` (`repo:acme/*`, `acme/app-*`), so another owner's names cannot match.
 */
export function pinsAnOwner(pattern: string): boolean {
  if (!hasWildcard(pattern)) return true;
  return pattern.slice(0, pattern.indexOf('*')).includes('/');
}
