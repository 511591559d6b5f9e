package main

import (
	"math/bits"
	"time"
)

// subBuckets per power of two: values are kept to within 1/256 (0.4 %), in microseconds.
const subBuckets = 256

// histogram counts latencies in log-linear microsecond buckets (exact below 256 µs), like an
// HDR histogram with fewer significant digits, in a few KiB whatever the number of samples.
type histogram struct {
	counts []uint64
	n      uint64
	sumUs  uint64
	maxUs  uint64
}

func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	shift := bits.Len64(us) - bits.Len64(subBuckets-1) - 1 // us>>shift is in [256, 511]
	return (shift+1)*subBuckets + int(us>>shift) - subBuckets
}

// lowestOf is the smallest value that falls into bucket i.
func lowestOf(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	return uint64(i%subBuckets+subBuckets) << shift
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d.Microseconds(), 1))
	i := bucketOf(us)
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	h.n++
	h.sumUs += us
	h.maxUs = max(h.maxUs, us)
}

func (h *histogram) merge(o *histogram) {
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]uint64, len(o.counts)-len(h.counts))...)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sumUs += o.sumUs
	h.maxUs = max(h.maxUs, o.maxUs)
}

// quantileMs is the value at quantile q (0..1), in milliseconds.
func (h *histogram) quantileMs(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return float64(min(lowestOf(i), h.maxUs)) / 1e3
		}
	}
	return float64(h.maxUs) / 1e3
}

// latencySummary has the fields of `rmq bench produce --json`'s "latency".
type latencySummary struct {
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func (h *histogram) summary() latencySummary {
	if h.n == 0 {
		return latencySummary{}
	}
	return latencySummary{
		MeanMs: float64(h.sumUs) / float64(h.n) / 1e3,
		P50Ms:  h.quantileMs(0.50),
		P90Ms:  h.quantileMs(0.90),
		P99Ms:  h.quantileMs(0.99),
		P999Ms: h.quantileMs(0.999),
		MaxMs:  float64(h.maxUs) / 1e3,
	}
}
