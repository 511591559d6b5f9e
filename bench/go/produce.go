package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// produceStartMarker is printed on stderr when the senders start (the parent's clock starts).
const produceStartMarker = "rmq-bench-go produce: sending"

// produceSummary has the fields of `rmq bench produce --json`.
type produceSummary struct {
	Topic        string         `json:"topic"`
	Concurrency  int            `json:"concurrency"`
	BodyBytes    int            `json:"body_bytes"`
	Header       string         `json:"header"`
	WarmupSecs   float64        `json:"warmup_secs"`
	MeasuredSecs float64        `json:"measured_secs"`
	Msgs         uint64         `json:"msgs"`
	MsgsPerSec   float64        `json:"msgs_per_sec"`
	MBPerSec     float64        `json:"mb_per_sec"`
	Errors       uint64         `json:"errors"`
	WarmupMsgs   uint64         `json:"warmup_msgs"`
	FirstError   string         `json:"first_error,omitempty"`
	Latency      latencySummary `json:"latency"`
}

// sender is one goroutine's tally; merged when all are done.
type sender struct {
	hist       histogram
	errors     uint64
	warmupMsgs uint64
	firstError error
}

// produce sends from -c goroutines, each `SendSync` in a loop, for -warmup plus -d (or until -n
// messages were sent). Sends that start during the warm-up, or end after the deadline, are not
// counted.
func produce(args []string) error {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	namesrv := fs.String("namesrv", "127.0.0.1:9876", "name server address(es), host:port[;host:port]")
	topic := fs.String("topic", "", "topic to send to")
	concurrency := fs.Int("c", 16, "concurrent senders (goroutines)")
	size := fs.Int("s", 1024, "body size in bytes")
	duration := fs.Duration("d", 30*time.Second, "measured duration (after the warm-up); ignored with -n")
	count := fs.Uint64("n", 0, "send this many messages instead of running for -d")
	warmup := fs.Duration("warmup", 0, "warm-up, not measured")
	_ = fs.Parse(args)
	if *topic == "" || *concurrency < 1 {
		return errors.New("produce needs -topic and -c >= 1")
	}

	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver(nameServers(*namesrv))),
		producer.WithGroupName("rmq_bench_go_producer"),
		producer.WithInstanceName(fmt.Sprint(os.Getpid())),
		producer.WithRetry(2),
	)
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return fmt.Errorf("starting the producer: %w", err)
	}
	defer func() { _ = p.Shutdown() }()

	body := make([]byte, *size)
	for i := range body {
		body[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i%36]
	}
	fmt.Fprintf(os.Stderr, "%s to %s from %d goroutines, %d B bodies\n", produceStartMarker, *topic, *concurrency, *size)
	start := time.Now()
	measureFrom := start.Add(*warmup)
	deadline := measureFrom.Add(*duration)
	var issued atomic.Uint64
	more := func(now time.Time) bool {
		if *count > 0 {
			return issued.Add(1) <= *count
		}
		return now.Before(deadline)
	}

	senders := make([]sender, *concurrency)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func(s *sender) {
			defer wg.Done()
			for began := time.Now(); more(began); began = time.Now() {
				res, err := p.SendSync(context.Background(), primitive.NewMessage(*topic, body))
				if err == nil && res.Status != primitive.SendOK {
					err = fmt.Errorf("send status %d", res.Status)
				}
				ended := time.Now()
				switch {
				case began.Before(measureFrom):
					s.warmupMsgs++
				case *count == 0 && ended.After(deadline):
				case err != nil:
					s.errors++
					if s.firstError == nil {
						s.firstError = err
					}
				default:
					s.hist.record(ended.Sub(began))
				}
			}
		}(&senders[i])
	}
	wg.Wait()

	end := time.Now()
	if *count == 0 {
		end = deadline
	}
	var total sender
	for i := range senders {
		s := &senders[i]
		total.hist.merge(&s.hist)
		total.errors += s.errors
		total.warmupMsgs += s.warmupMsgs
		if total.firstError == nil {
			total.firstError = s.firstError
		}
	}
	secs := end.Sub(measureFrom).Seconds()
	summary := produceSummary{
		Topic:        *topic,
		Concurrency:  *concurrency,
		BodyBytes:    *size,
		Header:       "Json",
		WarmupSecs:   warmup.Seconds(),
		MeasuredSecs: secs,
		Msgs:         total.hist.n,
		Errors:       total.errors,
		WarmupMsgs:   total.warmupMsgs,
		Latency:      total.hist.summary(),
	}
	if secs > 0 {
		summary.MsgsPerSec = float64(total.hist.n) / secs
		summary.MBPerSec = summary.MsgsPerSec * float64(*size) / 1e6
	}
	if total.firstError != nil {
		summary.FirstError = total.firstError.Error()
	}
	return printJSON(summary)
}
