package main

import (
	"testing"
	"time"
)

func TestBucketsAreContiguousAndMonotonic(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<20; us++ {
		i := bucketOf(us)
		if i != prev && i != prev+1 {
			t.Fatalf("bucket of %d µs is %d, after %d", us, i, prev)
		}
		if i != prev && lowestOf(i) != us {
			t.Fatalf("bucket %d starts at %d µs, lowestOf says %d", i, us, lowestOf(i))
		}
		prev = i
	}
}

func TestQuantilesWithinPrecision(t *testing.T) {
	var a, b histogram
	for us := 1; us <= 10000; us++ {
		a.record(time.Duration(us) * time.Microsecond)
	}
	b.record(250 * time.Millisecond)
	a.merge(&b)
	s := a.summary()
	near := func(got, want float64) bool { return got <= want && got >= want*(1-1.0/subBuckets)-0.001 }
	if !near(s.P50Ms, 5.0) || !near(s.P99Ms, 9.9) || s.MaxMs != 250 {
		t.Fatalf("summary %+v", s)
	}
}
