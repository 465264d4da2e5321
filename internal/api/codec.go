package api

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// grpc-go answers a request that fails to decode with Internal, before any interceptor
// runs: bytes that are not a protobuf message ("ff ff ff ff 0f"), or invalid UTF-8 in a
// string field. Both are the caller's fault. This codec lets such a request through empty
// and marked with why, so the interceptors below answer it from the error table
// (InvalidArgument).
type codec struct {
	base   encoding.CodecV2
	marked *sync.Map // proto.Message -> error (errMalformed or errNotProtobuf)
}

func (c codec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }
func (c codec) Name() string                           { return c.base.Name() }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok {
		return err
	}
	why := errNotProtobuf
	if strings.Contains(err.Error(), "invalid UTF-8") {
		why = errMalformed
	}
	proto.Reset(m)
	c.marked.Store(m, why)
	return nil
}

// decodeGuard returns the server options that turn undecodable requests into
// InvalidArgument instead of Internal, for unary and streaming methods alike.
func decodeGuard() (grpc.ServerOption, grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	marked := &sync.Map{}
	cdc := codec{base: encoding.GetCodecV2("proto"), marked: marked}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if why, bad := marked.LoadAndDelete(req); bad {
			return nil, why.(error)
		}
		return h(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, guardedStream{ServerStream: ss, marked: marked})
	}
	return grpc.ForceServerCodecV2(cdc), unary, stream
}

// guardedStream answers a streamed message that did not decode with its mark.
type guardedStream struct {
	grpc.ServerStream
	marked *sync.Map
}

func (s guardedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if why, bad := s.marked.LoadAndDelete(m); bad {
		return Status(s.Context(), nil, why.(error))
	}
	return nil
}
