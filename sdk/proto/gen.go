// Package proto holds the gRPC protocol between the Parlor host and its
// plugins: the .proto files and the Go code protoc generates from them.
// Plugin authors use package sdk instead of this package directly.
//
// Regenerate with `go generate ./sdk/proto`; it needs protoc,
// protoc-gen-go and protoc-gen-go-grpc on PATH.
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative types.proto authenticator.proto module.proto hostapi.proto
