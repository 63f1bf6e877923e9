// helm-batch runs the official helm v4 command tree in one long-lived process.
//
// Each line on stdin is a JSON request {"args": ["template", ...]}; each answer is one JSON line
// {"stdout": "...", "stderr": "...", "code": N}. With "documents": true in the request, a
// successful answer also carries stdout's YAML documents as JSON, {"line": N, "object": {...}},
// converted with sigs.k8s.io/yaml as kubectl converts manifests (or "documents_error" when stdout
// is not a YAML stream that converts). A request {"yaml": "..."} runs no helm command: its answer
// carries that stream's documents (or "documents_error"), so every manifest the gate reads is read
// the same way.
//
// The commands are helm's own (helm.sh/helm/v4/pkg/cmd, the code the helm binary's main runs), so
// the output is helm's. Shared between requests are the process start-up and, through the three
// lines patch-helm.sh changes in helm's module, each chart's decoded and compiled values.schema.json;
// --namespace is also answered without loading the kubeconfig. dsgate's tests compare the output and
// the errors byte for byte with the helm binary on every scenario.
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
	"strings"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
	"sigs.k8s.io/yaml"
)

type request struct {
	Args      []string `json:"args"`
	Documents bool     `json:"documents"`
	YAML      *string  `json:"yaml"` // set: convert this YAML stream's documents instead of running helm
}

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

// convert sets the documents of STREAM on the response, or the reason they do not convert.
func (r *response) convert(stream string) {
	if docs, err := documents(stream); err != nil {
		r.DocumentsError = err.Error()
	} else {
		r.Documents = docs
	}
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
				switch {
				case req.YAML != nil:
					resp.convert(*req.YAML)
				default:
					resp = run(req.Args)
					if req.Documents && resp.Code == 0 {
						resp.convert(resp.Stdout)
					}
				}
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
