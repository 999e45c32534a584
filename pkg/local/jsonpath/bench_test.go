package jsonpath

import (
	"fmt"
	"testing"
)

// benchInput is a typical deploy state input.
const benchInput = `{"release_id":"r-20261125-1","project_name":"web","config_name":"prod","aws_account_id":"123456789012",
"aws_region":"us-east-1","bucket":"odin-releases","release_key":"123456789012/web/prod/r-20261125-1/release",
"release_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","deployed_by":"alice",
"services":{"api":{"instances":3,"health":{"path":"/health","healthy":true}}},"attempts":[1,2,3]}`

func BenchmarkGetDefinite(b *testing.B) {
	doc, _ := Decode([]byte(benchInput))
	p, err := Compile("$.services.api.health.healthy")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Get(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTemplateEval(b *testing.B) {
	doc, _ := Decode([]byte(benchInput))
	ctx, _ := Decode([]byte(`{"Execution":{"Id":"arn:aws:states:us-east-1:123456789012:execution:deployer:r-1"},"State":{"Name":"Deploy","RetryCount":0}}`))
	raw, _ := Decode([]byte(`{
		"release_id.$": "$.release_id",
		"bucket.$": "$.bucket",
		"healthy.$": "$.services.api.health.healthy",
		"execution.$": "$$.Execution.Id",
		"step": "Deploy"
	}`))
	tpl, err := CompileTemplate(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Eval(doc, ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSet(b *testing.B) {
	doc, _ := Decode([]byte(benchInput))
	p, _ := CompileReference("$.result.deploy")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Set(doc, p, "ok"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIntrinsicFormat(b *testing.B) {
	doc, _ := Decode([]byte(benchInput))
	in, err := CompileIntrinsic("States.Format('{}/{}/{}', $.project_name, $.config_name, $.release_id)")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.Eval(doc, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, expr := range []string{"$.services.api.health.healthy", "$.a[?(@.x > 1 && @.y == 'z')].b"} {
		b.Run(fmt.Sprintf("%d", len(expr)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(expr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
