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
// runs, and protobuf rejects invalid UTF-8 in string fields. This codec lets such a router
// request through empty and marked, so the error table can answer InvalidArgument.
type codec struct {
	base   encoding.CodecV2
	marked *sync.Map // proto.Message -> struct{}
}

func (c codec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }
func (c codec) Name() string                           { return c.base.Name() }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err != nil && ok && strings.Contains(err.Error(), "invalid UTF-8") &&
		strings.HasPrefix(string(m.ProtoReflect().Descriptor().FullName()), "needle.router.v1.") {
		proto.Reset(m)
		c.marked.Store(m, struct{}{})
		return nil
	}
	return err
}

// decodeGuard returns the server options that turn undecodable router requests into
// InvalidArgument instead of Internal.
func decodeGuard() (grpc.ServerOption, grpc.UnaryServerInterceptor) {
	marked := &sync.Map{}
	cdc := codec{base: encoding.GetCodecV2("proto"), marked: marked}
	return grpc.ForceServerCodecV2(cdc), func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if _, bad := marked.LoadAndDelete(req); bad {
			return nil, errMalformed
		}
		return h(ctx, req)
	}
}
