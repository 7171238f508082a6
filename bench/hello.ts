// The baseline for CLI cold start: the smallest program the same bun compiles.
console.log('hello');
