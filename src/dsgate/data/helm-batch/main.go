// helm-batch runs the official helm command tree in one long-lived process: helm v4's with
// helm4.go beside this file (helm-batch), helm v3's with helm3.go (helm3-batch).
//
// Each line on stdin is a JSON request {"args": ["template", ...]}; each answer is one JSON line
// {"stdout": "...", "stderr": "...", "code": N}. With "documents": true in the request, a
// successful answer also carries stdout's YAML documents as JSON, {"line": N, "object": {...}},
// converted with sigs.k8s.io/yaml as kubectl converts manifests (or "documents_error" when stdout
// is not a YAML stream that converts). A request {"yaml": "..."} runs no helm command: its answer
// carries that stream's documents (or "documents_error"), so every manifest the gate reads is read
// the same way.
//
// Limits (a hostile chart must not exhaust the machine): a request may carry "limits"
// {"bytes", "documents", "depth"}: an output larger than bytes, with more documents, or nested deeper
// is refused with code 3 and one line in stderr (before any JSON reaches the caller). The process
// runs with Go's memory limit HELM_BATCH_MEMORY (bytes) and a watchdog: a request still running
// after HELM_BATCH_SECONDS, or whose process holds more than HELM_BATCH_MEMORY although the
// collector works to stay under it (a render's live data is that large), cannot be
// cancelled inside Go (template execution has no context), so the watchdog writes one line to
// stderr and exits with code 124 (time) or 125 (memory). The caller restarts helm-batch and goes on
// with the other renders. helm-batch also asks the kernel for SIGKILL when its parent thread dies.
//
// The commands are helm's own (helm.sh/helm/v4/pkg/cmd, or helm v3's cmd/helm: the code the helm
// binary's main runs), so the output is helm's. Shared between requests are the process start-up and,
// through the three lines patch-helm.sh changes in helm's module (both majors), each chart's decoded
// and compiled values.schema.json; --namespace is also answered without loading the kubeconfig.
// dsgate's tests compare the output and the errors byte for byte with the helm binary of the same
// major on every scenario.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	runtimedebug "runtime/debug" // helm v3's package main has a debug of its own
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"
)

type request struct {
	Args      []string `json:"args"`
	Documents bool     `json:"documents"`
	YAML      *string  `json:"yaml"` // set: convert this YAML stream's documents instead of running helm
	Limits    limits   `json:"limits"`
}

// limits of one answer; 0 means none.
type limits struct {
	Bytes     int `json:"bytes"`
	Documents int `json:"documents"`
	Depth     int `json:"depth"`
}

// codeLimit answers a request whose output crosses one of its limits.
const codeLimit = 3

type document struct {
	Line   int             `json:"line"` // 1-based line, in the stream, of the document's first content line
	Object json.RawMessage `json:"object"`
}

type response struct {
	Stdout         string     `json:"stdout"`
	Stderr         string     `json:"stderr"`
	Code           int        `json:"code"`
	Documents      []document `json:"documents,omitempty"`
	DocumentsError string     `json:"documents_error,omitempty"`
}

// convert sets the documents of STREAM on the response, or the reason they do not convert; a
// stream crossing LIM makes the whole answer a refusal.
func (r *response) convert(stream string, lim limits) {
	if lim.Bytes > 0 && len(stream) > lim.Bytes {
		*r = response{Stderr: fmt.Sprintf("limit bytes: %d bytes of output", len(stream)), Code: codeLimit}
		return
	}
	docs, err := documents(stream)
	if err != nil {
		r.DocumentsError = err.Error()
		return
	}
	if lim.Documents > 0 && len(docs) > lim.Documents {
		*r = response{Stderr: fmt.Sprintf("limit documents: %d documents", len(docs)), Code: codeLimit}
		return
	}
	for _, doc := range docs {
		if d := depth(doc.Object); lim.Depth > 0 && d > lim.Depth {
			*r = response{Stderr: fmt.Sprintf("limit depth: a value nested %d levels deep (the document at line %d)", d, doc.Line), Code: codeLimit}
			return
		}
	}
	r.Documents = docs
}

// depth is the nesting depth of the JSON value RAW (a scalar is 0, {} or [] is 1).
func depth(raw []byte) int {
	deepest, level, inString, escaped := 0, 0, false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = c == '\\'
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			level++
			deepest = max(deepest, level)
		case c == '}' || c == ']':
			level--
		}
	}
	return deepest
}

// documents splits a YAML stream where kubectl's reader (k8s.io/apimachinery/pkg/util/yaml) does,
// at lines starting with "---" followed by nothing but spaces or a comment (anything else on such a
// line is an error, as there), and converts each document to JSON with sigs.k8s.io/yaml. Empty and
// comment-only documents are dropped.
func documents(stream string) ([]document, error) {
	var docs []document
	var chunk strings.Builder
	start, first := 1, 0 // the chunk's first line, and its first content line (0: none yet)
	flush := func() error {
		defer chunk.Reset()
		if first == 0 {
			return nil
		}
		out, err := yaml.YAMLToJSON([]byte(chunk.String()))
		if err != nil {
			return fmt.Errorf("the document starting at line %d (line numbers below count from there): %w", start, err)
		}
		if !bytes.Equal(out, []byte("null")) {
			docs = append(docs, document{Line: first, Object: out})
		}
		return nil
	}
	for n, line := range strings.SplitAfter(stream, "\n") {
		if rest, ok := strings.CutPrefix(line, "---"); ok {
			if rest = strings.TrimSpace(rest); rest != "" && !strings.HasPrefix(rest, "#") {
				return nil, fmt.Errorf("line %d: content after the document separator: %q", n+1, line)
			}
			if err := flush(); err != nil {
				return nil, err
			}
			start, first = n+2, 0
			continue
		}
		if trimmed := strings.TrimSpace(line); first == 0 && trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			first = n + 1
		}
		chunk.WriteString(line)
	}
	return docs, flush()
}

// gcPercent trades memory for CPU: a render allocates a lot of short-lived garbage, and at Go's
// default (100) the collector took a fifth of helm-batch's CPU on the 400-render benchmark. At 800
// a process peaks near 270 MB instead of 120 MB. GOGC in the environment still wins.
const gcPercent = 800

// envInt is the integer environment variable NAME, 0 when unset or not a number.
func envInt(name string) int64 {
	n, _ := strconv.ParseInt(os.Getenv(name), 10, 64)
	return n
}

// watchdog ends the process when the request that started at *STARTED (unix nanoseconds, 0: idle)
// runs past SECONDS, or the process's Go memory passes MEMORY (see the package comment).
func watchdog(started *atomic.Int64, seconds, memory int64) {
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	for range time.Tick(20 * time.Millisecond) {
		if memory > 0 {
			metrics.Read(sample)
			if used := sample[0].Value.Uint64() - sample[1].Value.Uint64(); used > uint64(memory) {
				fmt.Fprintf(os.Stderr, "helm-batch: a render used %d MiB, over its limit of %d MiB\n", used>>20, memory>>20)
				os.Exit(125)
			}
		}
		if at := started.Load(); seconds > 0 && at != 0 && time.Since(time.Unix(0, at)) > time.Duration(seconds)*time.Second {
			fmt.Fprintf(os.Stderr, "helm-batch: a render ran longer than its limit of %ds\n", seconds)
			os.Exit(124)
		}
	}
}

func main() {
	// Die with the thread that started us, even if it is SIGKILLed (Linux: PR_SET_PDEATHSIG).
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0)
	if os.Getppid() == 1 {
		os.Exit(1) // the parent died before the prctl
	}
	setup()
	if _, set := os.LookupEnv("GOGC"); !set {
		runtimedebug.SetGCPercent(gcPercent)
	}
	memory, seconds := envInt("HELM_BATCH_MEMORY"), envInt("HELM_BATCH_SECONDS")
	if memory > 0 {
		runtimedebug.SetMemoryLimit(memory)
	}
	var started atomic.Int64
	go watchdog(&started, seconds, memory)
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
				started.Store(time.Now().UnixNano())
				switch {
				case req.YAML != nil:
					resp.convert(*req.YAML, req.Limits)
				default:
					resp = run(req.Args)
					if req.Limits.Bytes > 0 && len(resp.Stdout) > req.Limits.Bytes {
						resp = response{Stderr: fmt.Sprintf("limit bytes: %d bytes of output", len(resp.Stdout)), Code: codeLimit}
					} else if req.Documents && resp.Code == 0 {
						resp.convert(resp.Stdout, req.Limits)
					}
				}
				started.Store(0)
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
