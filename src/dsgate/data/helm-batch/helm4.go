// helm v4's half of helm-batch: its command tree is a library (helm.sh/helm/v4/pkg/cmd).

package main

import (
	"bytes"
	"errors"
	"fmt"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

// setup does what helm's main does once before its command runs.
func setup() {
	kube.ManagedFieldsManager = "helm"
}

// run runs ARGS through helm v4's root command, as the helm binary's main does.
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
