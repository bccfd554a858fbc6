package main

import (
	"context"

	"github.com/parlorchat/parlor/sdk"
)

// noHookModule is a module that declares no hook: it serves nothing the
// message path could call.
type noHookModule struct{}

// passModule passes every message unchanged through OnMessage.
type passModule struct{}

// OnMessage implements sdk.MessageHook.
func (passModule) OnMessage(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
	return sdk.MessageVerdict{Action: sdk.Pass}, nil
}

// serveBenchPlugin runs this process as the module plugin kind names (see
// benchPluginKind); it returns when the host stops the plugin.
func serveBenchPlugin(kind string) {
	var mod sdk.Module = noHookModule{}
	if kind == benchPluginPass {
		mod = passModule{}
	}
	sdk.Serve(sdk.ServeOpts{Module: mod, Logger: sdk.NewLogger(kind)})
}
