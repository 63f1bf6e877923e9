// helm v3's half of helm-batch (built as helm3-batch): helm v3's command tree is package main of
// helm.sh/helm/v3/cmd/helm, so this file and main.go are compiled into that package, whose own main
// the build renames (toolbuild/build.sh). setup and run do what that main does around each command.

package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/kube"
)

// current is the action configuration of the command running now. helm's main registers one
// cobra initializer per process for its one command; a batch registers it once too (setup), and
// the initializer configures the request's own configuration.
var current *action.Configuration

func setup() {
	kube.ManagedFieldsManager = "helm"
	cobra.OnInitialize(func() {
		helmDriver := os.Getenv("HELM_DRIVER")
		if err := current.Init(settings.RESTClientGetter(), settings.Namespace(), helmDriver, debug); err != nil {
			panic(err)
		}
		if helmDriver == "memory" {
			loadReleasesInMemory(current)
		}
		current.SetHookOutputFunc(hookOutputWriter)
	})
}

// run runs ARGS through helm v3's root command with fresh settings (helm's flags bind to the
// package's settings, so a request must not see the one before), as the helm binary's main does.
func run(args []string) (resp response) {
	var out, errOut bytes.Buffer
	settings = cli.New()
	current = new(action.Configuration)
	defer func() { // the initializer's failure: helm's main ends the process with it (log.Fatal)
		if r := recover(); r != nil {
			resp = response{Stdout: out.String(), Stderr: fmt.Sprintf("%s%v\n", errOut.String(), r), Code: 1}
		}
	}()
	cmd, err := newRootCmd(current, &out, args)
	if err != nil {
		return response{Stderr: fmt.Sprintf("WARNING: %+v\n", err), Code: 1}
	}
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		code := 1
		if e, ok := err.(pluginError); ok { // helm's main: a plugin's own exit code
			code = e.code
		}
		return response{Stdout: out.String(), Stderr: errOut.String(), Code: code}
	}
	return response{Stdout: out.String(), Stderr: errOut.String()}
}
