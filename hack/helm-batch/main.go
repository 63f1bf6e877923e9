// helm-batch runs the official helm v4 command tree in one long-lived process.
//
// Each line on stdin is a JSON request {"args": ["template", ...]}; each answer is one JSON line
// {"stdout": "...", "stderr": "...", "code": N}. The commands are helm's own (helm.sh/helm/v4/pkg/cmd,
// the code the helm binary's main runs), so the output is helm's; shared are the process start-up
// and, through the one change hack/tools.sh makes to helm's module (helm-patch/), each chart's
// compiled values.schema.json. dsgate's tests compare its output and its errors byte for byte with
// the helm binary on every scenario.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

type request struct {
	Args []string `json:"args"`
}

type response struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Code   int    `json:"code"`
}

func run(args []string) response {
	var out, errOut bytes.Buffer
	cmd, err := helmcmd.NewRootCmd(&out, args, helmcmd.SetupLogging)
	if err != nil {
		return response{Stderr: err.Error(), Code: 1}
	}
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		code := 1
		if cerr, ok := errors.AsType[helmcmd.CommandError](err); ok {
			code = cerr.ExitCode
		}
		if errOut.Len() == 0 {
			fmt.Fprintf(&errOut, "Error: %s\n", err)
		}
		return response{Stdout: out.String(), Stderr: errOut.String(), Code: code}
	}
	return response{Stdout: out.String(), Stderr: errOut.String()}
}

// gcPercent trades memory for CPU: a render allocates a lot of short-lived garbage, and at Go's
// default (100) the collector took a fifth of helm-batch's CPU on the 400-render benchmark. At 800
// a process peaks near 270 MB instead of 120 MB. GOGC in the environment still wins.
const gcPercent = 800

func main() {
	kube.ManagedFieldsManager = "helm"
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	// HELM_BATCH_CPUPROFILE=FILE writes a Go CPU profile of the whole run (go tool pprof FILE).
	if path := os.Getenv("HELM_BATCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil || pprof.StartCPUProfile(f) != nil {
			fmt.Fprintf(os.Stderr, "helm-batch: cannot profile to %s\n", path)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	enc := json.NewEncoder(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req request
			var resp response
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				resp = response{Stderr: "helm-batch: bad request: " + jerr.Error(), Code: 2}
			} else {
				resp = run(req.Args)
			}
			if eerr := enc.Encode(resp); eerr != nil {
				os.Exit(3)
			}
		}
		if err != nil {
			return
		}
	}
}
