//go:build race

package main

// raceSlowdown: the race detector runs this code several times slower, so
// a time budget on a hostile file is that much larger under it (the
// budget catches unbounded work, which takes minutes, not a constant
// factor).
const raceSlowdown = 5
