// Command rmq-bench-go is the Go side of `rmq bench side-by-side`: the same produce and consume
// workloads as `rmq bench produce` and `rmq bench consume`, written with the Apache RocketMQ Go
// client (github.com/apache/rocketmq-client-go/v2). Each subcommand prints its start and end
// markers on stderr (the parent samples the process's CPU time there) and one JSON summary line on
// stdout with the same fields as the Rust tool's `--json` output.
//
//	rmq-bench-go produce -namesrv 127.0.0.1:9876 -topic T [-c 16] [-s 1024] [-d 30s | -n 100000] [-warmup 5s]
//	rmq-bench-go consume -namesrv 127.0.0.1:9876 -topic T -n 1000000 [-group G] [-timeout 10m]
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func main() {
	rlog.SetLogLevel("error")
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "produce":
		err = produce(os.Args[2:])
	case "consume":
		err = consume(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rmq-bench-go:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: rmq-bench-go produce|consume -namesrv ADDR -topic T [flags] (-h for the flags)")
	os.Exit(2)
}

// nameServers splits `host:port;host:port`.
func nameServers(addrs string) []string {
	return strings.FieldsFunc(addrs, func(r rune) bool { return r == ';' || r == ',' })
}

// printJSON writes v as one line on stdout.
func printJSON(v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(line))
	return err
}
