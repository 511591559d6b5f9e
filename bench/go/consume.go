package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

const (
	// consumeStartMarker is printed on stderr just before the consumer's Start().
	consumeStartMarker = "rmq-bench-go consume: starting"
	// consumeDrainedMarker is printed on stderr by the listener call that completes the count.
	consumeDrainedMarker = "rmq-bench-go consume: drained"
)

// consumeSummary has the fields of `rmq bench consume --json`.
type consumeSummary struct {
	Group       string   `json:"group"`
	Target      uint64   `json:"target"`
	Msgs        uint64   `json:"msgs"`
	Drained     bool     `json:"drained"`
	StartCallMs float64  `json:"start_call_ms"`
	FirstMsgMs  *float64 `json:"first_msg_ms"`
	DrainSecs   float64  `json:"drain_secs"`
	MsgsPerSec  float64  `json:"msgs_per_sec"`
}

// consume drains a topic with a new push consumer group from the first offset, with a listener
// that only counts, until -n messages arrived (or -timeout).
func consume(args []string) error {
	fs := flag.NewFlagSet("consume", flag.ExitOnError)
	namesrv := fs.String("namesrv", "127.0.0.1:9876", "name server address(es), host:port[;host:port]")
	topic := fs.String("topic", "", "topic to drain")
	group := fs.String("group", fmt.Sprintf("rmq_bench_go_consumer_%d", os.Getpid()), "consumer group (a new one reads from the first offset)")
	target := fs.Uint64("n", 0, "stop after this many messages")
	goroutines := fs.Int("w", 0, "listener goroutines (default: the client's, 20)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up (and report what was consumed) after this long")
	_ = fs.Parse(args)
	if *topic == "" || *target == 0 {
		return errors.New("consume needs -topic and -n >= 1")
	}

	opts := []consumer.Option{
		consumer.WithNsResolver(primitive.NewPassthroughResolver(nameServers(*namesrv))),
		consumer.WithGroupName(*group),
		consumer.WithInstance(fmt.Sprint(os.Getpid())),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}
	if *goroutines > 0 {
		opts = append(opts, consumer.WithConsumeGoroutineNums(*goroutines))
	}
	c, err := rocketmq.NewPushConsumer(opts...)
	if err != nil {
		return err
	}

	var count atomic.Uint64
	var first, last atomic.Int64 // nanoseconds since t0, +1 so that 0 means "not yet"
	drained := make(chan struct{})
	var t0 time.Time
	err = c.Subscribe(*topic, consumer.MessageSelector{},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			now := int64(time.Since(t0)) + 1
			n := uint64(len(msgs))
			before := count.Add(n) - n
			if before == 0 {
				first.Store(now)
			}
			if before < *target && before+n >= *target {
				last.Store(now)
				fmt.Fprintln(os.Stderr, consumeDrainedMarker)
				close(drained)
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", *topic, err)
	}

	fmt.Fprintf(os.Stderr, "%s: topic %s, group %s, %d messages\n", consumeStartMarker, *topic, *group, *target)
	t0 = time.Now()
	if err := c.Start(); err != nil {
		return fmt.Errorf("starting the consumer: %w", err)
	}
	startCall := time.Since(t0)
	ticker := time.NewTicker(5 * time.Second)
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt)
	done, deadline := false, time.After(*timeout)
wait:
	for prev := uint64(0); ; {
		select {
		case <-drained:
			done = true
			break wait
		case <-ticker.C:
			n := count.Load()
			fmt.Fprintf(os.Stderr, "rmq-bench-go consume: +%.0fs %d consumed (%.0f msg/s over the last 5 s)\n",
				time.Since(t0).Seconds(), n, float64(n-prev)/5)
			prev = n
		case <-deadline:
			break wait
		case <-interrupted:
			break wait
		}
	}
	ticker.Stop()
	end := time.Since(t0)
	if done {
		end = time.Duration(last.Load() - 1)
	}
	_ = c.Shutdown()

	msgs := count.Load()
	summary := consumeSummary{
		Group:       *group,
		Target:      *target,
		Msgs:        msgs,
		Drained:     done,
		StartCallMs: float64(startCall.Microseconds()) / 1e3,
		DrainSecs:   end.Seconds(),
	}
	if f := first.Load(); f > 0 {
		ms := float64(f-1) / 1e6
		summary.FirstMsgMs = &ms
	}
	if summary.DrainSecs > 0 {
		summary.MsgsPerSec = float64(min(msgs, *target)) / summary.DrainSecs
	}
	if err := printJSON(summary); err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("consumed %d of %d messages before giving up", msgs, *target)
	}
	return nil
}
