package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
)

// BenchmarkS3 measures signed S3 calls through the whole server (SigV4
// verification, routing, the store) with the SDK's default checksums.
func BenchmarkS3(b *testing.B) {
	ctx := context.Background()
	s, err := New(ctx, Options{DataDir: filepath.Join(b.TempDir(), "d")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := s3Client(s.Endpoint(), s.Endpoint().SecretAccessKey)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 4096)
	b.Run("PutObject4KiB", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprint("k", i%100)), Body: bytes.NewReader(body)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetObject4KiB", func(b *testing.B) {
		for b.Loop() {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("k1")})
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, out.Body)
			out.Body.Close()
		}
	})
	b.Run("HeadObject", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bench"), Key: aws.String("k1")}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStatesRoundTrip is a signed Step Functions call through the
// server (SDK signing, SigV4 verification, routing) to a handler that does
// nothing: the server's own overhead per API call.
func BenchmarkStatesRoundTrip(b *testing.B) {
	ctx := context.Background()
	s, err := New(ctx, Options{DataDir: filepath.Join(b.TempDir(), "d"),
		States: func(context.Context, access.Endpoint, *engine.Functions) (StatesAPI, error) {
			return &fakeStates{}, nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := sfnClient(s.Endpoint(), s.Endpoint().SecretAccessKey)
	for b.Loop() {
		if _, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil {
			b.Fatal(err)
		}
	}
}
