// celcost reports the CEL cost of ValidatingAdmissionPolicies: estimated per expression, and actual on
// one object, with the CEL environment, compiler and cost accounting of the pinned kube-apiserver
// (k8s.io/apiserver at the Kubernetes version dsgate pins; the binary says which).
//
//	celcost [-object FILE] [POLICIES|-]     a JSON report on stdout
//	celcost -version
//
// POLICIES is a YAML or JSON stream as `dsgate admission render` writes it: the
// ValidatingAdmissionPolicies, their bindings (for paramRef), the params objects and the CRDs that
// define them (for the params type). Other documents are ignored.
//
// Estimated cost. The API server itself estimates no cost for a ValidatingAdmissionPolicy: it
// compiles each expression with object, oldObject and params of type dyn and enforces cost only at
// run time (per expression cel.CostLimit(PerCallLimit), per policy and request the
// RuntimeCELCostBudget). The estimate here is cel-go's estimator with k8s.io/apiserver's
// library.CostEstimator (as the API server estimates CRD validation rules) over each expression
// compiled as the plugin compiles it, object and params dyn, and a size estimator that gives a
// path's size from the OpenAPI schema (object: the definitions kube-apiserver is built with, resolved
// as the kube-controller-manager's type checker resolves them; params: the CRD's openAPIV3Schema in
// the stream; without maxItems/maxLength, the bound of the 3 MiB request, common.SchemaDeclType).
// Typed compilation is not used: the shared variables do not type-check against the schema (the
// checker sees initContainers and containers as two distinct object types, and drops fields whose
// schema is a oneOf, such as resource quantities), so the type checker itself treats them as dyn.
// A reference to `variables.NAME` is estimated with NAME's expression in its place: an upper bound,
// since at run time a variable is evaluated once per expression list. Where a path is lost (a
// concatenated list, a ternary), the estimator knows no size and its maximum saturates: a dyn-typed
// estimate, far looser than a typed one.
//
// Actual cost. Each policy is compiled as kube-apiserver's validating admission plugin compiles it
// (plugincel.NewCompositedCompiler over environment.MustBaseEnvSet at the default compatibility
// version, variables stored, validations, messageExpressions, matchConditions and auditAnnotations
// compiled as StoredExpressions) and evaluated on the object with the same budgets: matchConditions
// with RuntimeCELCostBudgetMatchConditions, validations with RuntimeCELCostBudget, the
// messageExpressions with what the validations left, auditAnnotations with a fresh
// RuntimeCELCostBudget. The object is defaulted as the API server defaults a create (the apps/v1 and
// core/v1 defaulting functions) and evaluated as a CREATE.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	goruntime "runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
	"k8s.io/apiserver/pkg/cel/openapi"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	k8sscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/validation/spec"
	appsdefaults "k8s.io/kubernetes/pkg/apis/apps/v1"
	coredefaults "k8s.io/kubernetes/pkg/apis/core/v1"
	generatedopenapi "k8s.io/kubernetes/pkg/generated/openapi"
)

// version is the Kubernetes version the binary is built from (-ldflags -X main.version=...).
var version = "unknown"

type estimate struct {
	Min uint64 `json:"min"`
	Max uint64 `json:"max"`
}

type expressionReport struct {
	Field       string    `json:"field"`
	Expression  string    `json:"expression"`
	Estimated   *estimate `json:"estimated,omitempty"`
	OverLimit   bool      `json:"estimatedOverPerCallLimit"`
	Actual      *int64    `json:"actual,omitempty"` // alone, the variables it reads included
	Result      string    `json:"result,omitempty"` // true, false, a string's value, or error
	Error       string    `json:"error,omitempty"`
	estimateErr bool
}

type actualReport struct {
	Matched            bool     `json:"matched"`
	MatchConditions    int64    `json:"matchConditions"`
	Validations        int64    `json:"validations"`
	MessageExpressions int64    `json:"messageExpressions"`
	Total              int64    `json:"total"` // validations + messageExpressions: one RuntimeCELCostBudget
	AuditAnnotations   int64    `json:"auditAnnotations"`
	WithinBudget       bool     `json:"withinBudget"` // no cost error, total within RuntimeCELCostBudget
	Admitted           bool     `json:"admitted"`     // every validation true
	Error              string   `json:"error,omitempty"`
	Errors             []string `json:"evaluationErrors,omitempty"` // of single expressions (the per-call limit among them)
}

type policyReport struct {
	Name         string             `json:"name"`
	Kinds        []string           `json:"kinds"`        // the types whose schema sizes the estimate (dyn: none)
	ParamsSized  bool               `json:"paramsSized"`  // params sized from its CRD's schema
	EstimatedMax uint64             `json:"estimatedMax"` // sum over validations and messageExpressions
	OverLimit    int                `json:"expressionsOverPerCallLimit"`
	Expressions  []expressionReport `json:"expressions"`
	Actual       *actualReport      `json:"actual,omitempty"`
	CompileError string             `json:"compileError,omitempty"`
}

type report struct {
	Tool                 string         `json:"tool"`
	Kubernetes           string         `json:"kubernetes"`
	Apiserver            string         `json:"apiserver"`
	CelGo                string         `json:"celGo"`
	CompatibilityVersion string         `json:"compatibilityVersion"`
	Limits               map[string]any `json:"limits"`
	Object               string         `json:"object,omitempty"`
	Policies             []policyReport `json:"policies"`
	Totals               map[string]any `json:"totals"`
}

type stream struct {
	policies []*admissionregistrationv1.ValidatingAdmissionPolicy
	bindings map[string]*admissionregistrationv1.ValidatingAdmissionPolicyBinding
	params   map[schema.GroupVersionKind]map[string]*unstructured.Unstructured
	schemas  map[schema.GroupVersionKind]*spec.Schema // from CRDs
}

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	objectFile := flag.String("object", "", "evaluate every policy on this object (YAML or JSON) for the actual cost")
	flag.Parse()
	if *showVersion {
		fmt.Printf("celcost %s (k8s.io/apiserver %s, cel-go %s)\n", version, moduleVersion("k8s.io/apiserver"), moduleVersion("github.com/google/cel-go"))
		return
	}
	if err := run(flag.Args(), *objectFile, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "celcost: %v\n", err)
		os.Exit(2)
	}
}

func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == path {
				if dep.Replace != nil {
					return dep.Replace.Version
				}
				return dep.Version
			}
		}
	}
	return "unknown"
}

func run(args []string, objectFile string, out io.Writer) error {
	var in io.Reader = os.Stdin
	source := "stdin"
	if len(args) > 1 {
		return errors.New("at most one policies file")
	}
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in, source = f, args[0]
	}
	docs, err := readDocs(in)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	s, err := parseStream(docs)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	if len(s.policies) == 0 {
		return fmt.Errorf("%s has no ValidatingAdmissionPolicy", source)
	}
	var object runtime.Object
	var objectGVK schema.GroupVersionKind
	if objectFile != "" {
		object, objectGVK, err = readObject(objectFile)
		if err != nil {
			return fmt.Errorf("%s: %w", objectFile, err)
		}
	}
	a := newAnalyser(s)
	r := report{
		Tool:                 "celcost",
		Kubernetes:           version,
		Apiserver:            moduleVersion("k8s.io/apiserver"),
		CelGo:                moduleVersion("github.com/google/cel-go"),
		CompatibilityVersion: environment.DefaultCompatibilityVersion().String(),
		Limits: map[string]any{
			"perCallLimit":                        celconfig.PerCallLimit,
			"runtimeCELCostBudget":                celconfig.RuntimeCELCostBudget,
			"runtimeCELCostBudgetMatchConditions": celconfig.RuntimeCELCostBudgetMatchConditions,
			"maxRequestSizeBytes":                 celconfig.MaxRequestSizeBytes,
		},
		Object: objectFile,
	}
	// The policies are independent: analysed in parallel (compiling the inlined estimates dominates).
	reports := make([]policyReport, len(s.policies))
	var wg sync.WaitGroup
	slots := make(chan struct{}, goruntime.GOMAXPROCS(0))
	for i, p := range s.policies {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			reports[i] = a.policy(p, object, objectGVK)
		}()
	}
	wg.Wait()
	var estTotal uint64
	var actTotal, actMax int64
	over, matched, withinAll, admittedAll := 0, 0, true, true
	for _, pr := range reports {
		estTotal = addSat(estTotal, pr.EstimatedMax)
		over += pr.OverLimit
		if pr.Actual != nil && pr.Actual.Matched {
			matched++
			actTotal += pr.Actual.Total
			actMax = max(actMax, pr.Actual.Total)
			withinAll = withinAll && pr.Actual.WithinBudget
			admittedAll = admittedAll && pr.Actual.Admitted
		}
		r.Policies = append(r.Policies, pr)
	}
	r.Totals = map[string]any{
		"policies":                    len(s.policies),
		"estimatedMax":                estTotal,
		"expressionsOverPerCallLimit": over,
	}
	if object != nil {
		r.Totals["matched"] = matched
		r.Totals["actual"] = actTotal
		r.Totals["actualMaxPolicy"] = actMax
		r.Totals["withinBudget"] = withinAll
		r.Totals["admitted"] = admittedAll
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", " ")
	return enc.Encode(r)
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func readDocs(in io.Reader) ([]map[string]any, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(in, 4096)
	var docs []map[string]any
	for {
		var doc any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, err
		}
		switch d := doc.(type) {
		case nil:
		case map[string]any:
			if items, ok := d["items"].([]any); ok && strings.HasSuffix(fmt.Sprint(d["kind"]), "List") {
				for _, item := range items {
					if m, ok := item.(map[string]any); ok {
						docs = append(docs, m)
					}
				}
				continue
			}
			docs = append(docs, d)
		case []any:
			for _, item := range d {
				if m, ok := item.(map[string]any); ok {
					docs = append(docs, m)
				}
			}
		default:
			return nil, fmt.Errorf("a document is a %T, not an object", doc)
		}
	}
}

func convert(doc map[string]any, into any) error {
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

func parseStream(docs []map[string]any) (*stream, error) {
	s := &stream{
		bindings: map[string]*admissionregistrationv1.ValidatingAdmissionPolicyBinding{},
		params:   map[schema.GroupVersionKind]map[string]*unstructured.Unstructured{},
		schemas:  map[schema.GroupVersionKind]*spec.Schema{},
	}
	for _, doc := range docs {
		u := &unstructured.Unstructured{Object: doc}
		gvk := u.GroupVersionKind()
		switch {
		case gvk.Group == "admissionregistration.k8s.io" && gvk.Kind == "ValidatingAdmissionPolicy":
			p := &admissionregistrationv1.ValidatingAdmissionPolicy{}
			if err := convert(doc, p); err != nil {
				return nil, fmt.Errorf("ValidatingAdmissionPolicy %s: %w", u.GetName(), err)
			}
			s.policies = append(s.policies, p)
		case gvk.Group == "admissionregistration.k8s.io" && gvk.Kind == "ValidatingAdmissionPolicyBinding":
			b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
			if err := convert(doc, b); err != nil {
				return nil, fmt.Errorf("ValidatingAdmissionPolicyBinding %s: %w", u.GetName(), err)
			}
			s.bindings[b.Spec.PolicyName] = b
		case gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition":
			if err := addCRD(s, u); err != nil {
				return nil, fmt.Errorf("CustomResourceDefinition %s: %w", u.GetName(), err)
			}
		default:
			if s.params[gvk] == nil {
				s.params[gvk] = map[string]*unstructured.Unstructured{}
			}
			s.params[gvk][u.GetName()] = u
		}
	}
	return s, nil
}

// addCRD records the schema of every served version of a CRD, with apiVersion, kind and metadata
// as the API server publishes it.
func addCRD(s *stream, u *unstructured.Unstructured) error {
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	for _, v := range versions {
		vm, ok := v.(map[string]any)
		if !ok {
			continue
		}
		name, _ := vm["name"].(string)
		raw, found, _ := unstructured.NestedMap(vm, "schema", "openAPIV3Schema")
		if !found {
			continue
		}
		js, err := json.Marshal(raw)
		if err != nil {
			return err
		}
		sch := &spec.Schema{}
		if err := json.Unmarshal(js, sch); err != nil {
			return err
		}
		s.schemas[schema.GroupVersionKind{Group: group, Version: name, Kind: kind}] = common.WithTypeAndObjectMeta(sch)
	}
	return nil
}

func readObject(path string) (runtime.Object, schema.GroupVersionKind, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, schema.GroupVersionKind{}, err
	}
	defer f.Close()
	docs, err := readDocs(f)
	if err != nil {
		return nil, schema.GroupVersionKind{}, err
	}
	if len(docs) != 1 {
		return nil, schema.GroupVersionKind{}, fmt.Errorf("%d documents; give exactly one object", len(docs))
	}
	raw, err := json.Marshal(docs[0])
	if err != nil {
		return nil, schema.GroupVersionKind{}, err
	}
	scheme := runtime.NewScheme()
	if err := k8sscheme.AddToScheme(scheme); err != nil {
		return nil, schema.GroupVersionKind{}, err
	}
	// The defaulting the API server applies to a create of this type (its registered defaulters).
	if err := appsdefaults.RegisterDefaults(scheme); err != nil {
		return nil, schema.GroupVersionKind{}, err
	}
	if err := coredefaults.RegisterDefaults(scheme); err != nil {
		return nil, schema.GroupVersionKind{}, err
	}
	codecs := serializer.NewCodecFactory(scheme, serializer.EnableStrict)
	obj, gvk, err := codecs.UniversalDeserializer().Decode(raw, nil, nil)
	if err != nil {
		return nil, schema.GroupVersionKind{}, err
	}
	scheme.Default(obj)
	return obj, *gvk, nil
}

type analyser struct {
	mu       sync.Mutex // guards types and envs
	s        *stream
	resolver resolver.SchemaResolver
	mapper   *meta.DefaultRESTMapper
	types    map[schema.GroupVersionKind]*apiservercel.DeclType // resolved once per type
	envs     map[bool]*cel.Env                                  // by hasParams
}

func newAnalyser(s *stream) *analyser {
	mapper := meta.NewDefaultRESTMapper(nil)
	for gvk := range k8sscheme.Scheme.AllKnownTypes() {
		if strings.HasSuffix(gvk.Kind, "List") || gvk.Version == runtime.APIVersionInternal {
			continue
		}
		mapper.Add(gvk, meta.RESTScopeNamespace)
	}
	for gvk := range s.schemas {
		mapper.Add(gvk, meta.RESTScopeRoot)
	}
	// As the kube-controller-manager's policy type checker: built-in types from the OpenAPI
	// definitions the binaries are built with.
	defs := resolver.NewDefinitionsSchemaResolver(generatedopenapi.GetOpenAPIDefinitions, k8sscheme.Scheme)
	return &analyser{s: s, resolver: defs, mapper: mapper, types: map[schema.GroupVersionKind]*apiservercel.DeclType{}, envs: map[bool]*cel.Env{}}
}

func (a *analyser) resolve(gvk schema.GroupVersionKind) *apiservercel.DeclType {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.types[gvk]; ok {
		return t
	}
	t := a.resolveOnce(gvk)
	a.types[gvk] = t
	return t
}

func (a *analyser) resolveOnce(gvk schema.GroupVersionKind) *apiservercel.DeclType {
	sch, ok := a.s.schemas[gvk]
	if !ok {
		var err error
		if sch, err = a.resolver.ResolveSchema(gvk); err != nil {
			return nil
		}
	}
	dt := common.SchemaDeclType(&openapi.Schema{Schema: sch}, true)
	if dt == nil {
		return nil
	}
	return dt.MaybeAssignTypeName(strings.ReplaceAll(gvk.Group+"."+gvk.Version+"."+gvk.Kind, ".", "_"))
}

// env: the estimate's environment, built once per hasParams (a cel.Env is safe for concurrent use).
func (a *analyser) env(hasParams bool) (*cel.Env, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if env, ok := a.envs[hasParams]; ok {
		return env, nil
	}
	env, err := compileEnv(nil, nil, hasParams)
	if err == nil {
		a.envs[hasParams] = env
	}
	return env, err
}

// kinds: the types a policy's matchConstraints select (as the type checker finds them).
func (a *analyser) kinds(p *admissionregistrationv1.ValidatingAdmissionPolicy) []schema.GroupVersionKind {
	found := map[schema.GroupVersionKind]bool{}
	if p.Spec.MatchConstraints == nil {
		return nil
	}
	for _, rule := range p.Spec.MatchConstraints.ResourceRules {
		for _, g := range rule.APIGroups {
			for _, v := range rule.APIVersions {
				for _, r := range rule.Resources {
					if strings.ContainsAny(g+v+r, "*/") {
						continue
					}
					kinds, err := a.mapper.KindsFor(schema.GroupVersionResource{Group: g, Version: v, Resource: r})
					if err != nil {
						continue
					}
					for _, k := range kinds {
						found[k] = true
					}
				}
			}
		}
	}
	out := make([]schema.GroupVersionKind, 0, len(found))
	for k := range found {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

var variableRef = regexp.MustCompile(`\bvariables\.([A-Za-z_][A-Za-z0-9_]*)`)

// inline replaces every variables.NAME by NAME's expression (recursively), for the estimator.
func inline(expr string, vars map[string]string, depth int) (string, error) {
	if depth > 32 {
		return "", errors.New("variables refer to each other in a cycle")
	}
	var failed error
	outText := variableRef.ReplaceAllStringFunc(expr, func(m string) string {
		name := variableRef.FindStringSubmatch(m)[1]
		body, ok := vars[name]
		if !ok {
			failed = fmt.Errorf("undefined variable %q", name)
			return m
		}
		inner, err := inline(body, vars, depth+1)
		if err != nil {
			failed = err
		}
		return "(" + inner + ")"
	})
	return outText, failed
}

type sizeEstimator struct {
	roots map[string]*apiservercel.DeclType
}

// EstimateSize walks the node's path from its root variable through the declared types, as the
// API server's CRD estimator does from `self`.
func (e *sizeEstimator) EstimateSize(element checker.AstNode) *checker.SizeEstimate {
	path := element.Path()
	if len(path) == 0 {
		return nil
	}
	node, ok := e.roots[path[0]]
	if !ok || node == nil {
		return nil
	}
	for _, name := range path[1:] {
		switch name {
		case "@items", "@values":
			node = node.ElemType
		case "@keys":
			// On a dyn range the estimator names a list's elements @keys too.
			if node.IsList() {
				node = node.ElemType
			} else {
				node = node.KeyType
			}
		default:
			f, ok := node.Fields[name]
			if !ok {
				return nil
			}
			node = f.Type
		}
		if node == nil {
			return nil
		}
	}
	return &checker.SizeEstimate{Min: 0, Max: uint64(node.MaxElements)}
}

// EstimateCallCost: no opinion (library.CostEstimator prices the calls it knows).
func (e *sizeEstimator) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return nil
}

// compileEnv: the environment of the validating admission plugin's compiler (environment.MustBaseEnvSet
// at the default compatibility version, StoredExpressions), with object and params of the given
// types (nil: dyn, as the plugin declares them).
func compileEnv(object, params *apiservercel.DeclType, hasParams bool) (*cel.Env, error) {
	base := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion())
	request, namespace := plugincel.BuildRequestType(), plugincel.BuildNamespaceType()
	declTypes := []*apiservercel.DeclType{namespace, request}
	celType := func(t *apiservercel.DeclType) *cel.Type {
		if t == nil {
			return cel.DynType
		}
		declTypes = append(declTypes, t)
		return t.CelType()
	}
	objectType := celType(object)
	opts := []cel.EnvOption{
		cel.Variable(plugincel.ObjectVarName, objectType),
		cel.Variable(plugincel.OldObjectVarName, objectType),
		cel.Variable(plugincel.NamespaceVarName, namespace.CelType()),
		cel.Variable(plugincel.RequestVarName, request.CelType()),
		cel.Variable(plugincel.AuthorizerVarName, library.AuthorizerType),
		cel.Variable(plugincel.RequestResourceAuthorizerVarName, library.ResourceCheckType),
	}
	if hasParams {
		opts = append(opts, cel.Variable(plugincel.ParamsVarName, celType(params)))
	}
	set, err := base.Extend(environment.VersionedOptions{
		IntroducedVersion: utilversion.MajorMinor(1, 0),
		EnvOptions:        opts,
		DeclTypes:         declTypes,
	})
	if err != nil {
		return nil, err
	}
	return set.Env(environment.StoredExpressions)
}

type estimator struct {
	envs []*cel.Env
	cost []*library.CostEstimator
	vars map[string]string
}

// estimate: the largest estimate over the policy's types (the type checker checks each).
func (e *estimator) estimate(expr string) (*estimate, error) {
	text, err := inline(expr, e.vars, 0)
	if err != nil {
		return nil, err
	}
	var best *estimate
	for i, env := range e.envs {
		ast, issues := env.Compile(text)
		if issues != nil && issues.Err() != nil {
			return nil, issues.Err()
		}
		c, err := env.EstimateCost(ast, e.cost[i])
		if err != nil {
			return nil, err
		}
		if best == nil || c.Max > best.Max {
			best = &estimate{Min: c.Min, Max: c.Max}
		}
	}
	if best == nil {
		return nil, errors.New("no type to estimate against")
	}
	return best, nil
}

func (a *analyser) policy(p *admissionregistrationv1.ValidatingAdmissionPolicy, object runtime.Object, objectGVK schema.GroupVersionKind) policyReport {
	pr := policyReport{Name: p.Name, Kinds: []string{}}
	hasParams := p.Spec.ParamKind != nil
	var paramsType *apiservercel.DeclType
	var paramsObj *unstructured.Unstructured
	if hasParams {
		gv, _ := schema.ParseGroupVersion(p.Spec.ParamKind.APIVersion)
		pgvk := gv.WithKind(p.Spec.ParamKind.Kind)
		paramsType = a.resolve(pgvk)
		pr.ParamsSized = paramsType != nil
		if b := a.s.bindings[p.Name]; b != nil && b.Spec.ParamRef != nil {
			paramsObj = a.s.params[pgvk][b.Spec.ParamRef.Name]
		}
	}
	est := &estimator{vars: map[string]string{}}
	for _, v := range p.Spec.Variables {
		est.vars[v.Name] = v.Expression
	}
	kinds := a.kinds(p)
	if len(kinds) == 0 {
		kinds = []schema.GroupVersionKind{{}} // untyped: object is dyn
	}
	for _, k := range kinds {
		objectType := a.resolve(k)
		if objectType != nil {
			pr.Kinds = append(pr.Kinds, k.String())
		} else {
			pr.Kinds = append(pr.Kinds, "dyn")
		}
		// object and params stay dyn, as the API server compiles them: typed, the shared variables do
		// not compile (initContainers + containers are two distinct object types to the checker).
		// The schema's types give the estimator its sizes only, by path.
		env, err := a.env(hasParams)
		if err != nil {
			pr.CompileError = err.Error()
			return pr
		}
		roots := map[string]*apiservercel.DeclType{
			plugincel.ObjectVarName:    objectType,
			plugincel.OldObjectVarName: objectType,
			plugincel.ParamsVarName:    paramsType,
			plugincel.NamespaceVarName: plugincel.BuildNamespaceType(),
			plugincel.RequestVarName:   plugincel.BuildRequestType(),
		}
		est.envs = append(est.envs, env)
		est.cost = append(est.cost, &library.CostEstimator{SizeEstimator: &sizeEstimator{roots: roots}})
	}

	add := func(field, expr string, counted bool) int {
		er := expressionReport{Field: field, Expression: expr}
		e, err := est.estimate(expr)
		if err != nil {
			er.Error = "estimate: " + strings.Join(strings.Fields(err.Error()), " ")
			er.estimateErr = true
		} else {
			er.Estimated = e
			er.OverLimit = e.Max > celconfig.PerCallLimit
			if er.OverLimit {
				pr.OverLimit++
			}
			if counted {
				pr.EstimatedMax = addSat(pr.EstimatedMax, e.Max)
			}
		}
		pr.Expressions = append(pr.Expressions, er)
		return len(pr.Expressions) - 1
	}
	for i, v := range p.Spec.Variables {
		add(fmt.Sprintf("spec.variables[%d].expression", i), v.Expression, false)
	}
	for i, m := range p.Spec.MatchConditions {
		add(fmt.Sprintf("spec.matchConditions[%d].expression", i), m.Expression, false)
	}
	validationAt := make([]int, len(p.Spec.Validations))
	messageAt := make([]int, len(p.Spec.Validations))
	for i, v := range p.Spec.Validations {
		validationAt[i] = add(fmt.Sprintf("spec.validations[%d].expression", i), v.Expression, true)
		messageAt[i] = -1
		if v.MessageExpression != "" {
			messageAt[i] = add(fmt.Sprintf("spec.validations[%d].messageExpression", i), v.MessageExpression, true)
		}
	}
	for i, an := range p.Spec.AuditAnnotations {
		add(fmt.Sprintf("spec.auditAnnotations[%d].valueExpression", i), an.ValueExpression, false)
	}
	if object != nil {
		pr.Actual = a.actual(p, &pr, object, objectGVK, paramsObj, validationAt, messageAt)
	}
	return pr
}

// matches: whether the policy's matchConstraints select a CREATE of the object's type.
func (a *analyser) matches(p *admissionregistrationv1.ValidatingAdmissionPolicy, gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool) {
	if p.Spec.MatchConstraints == nil {
		return schema.GroupVersionResource{}, false
	}
	for _, rule := range p.Spec.MatchConstraints.ResourceRules {
		create := false
		for _, op := range rule.Operations {
			create = create || op == admissionregistrationv1.Create || op == admissionregistrationv1.OperationAll
		}
		if !create {
			continue
		}
		for _, g := range rule.APIGroups {
			for _, v := range rule.APIVersions {
				for _, r := range rule.Resources {
					gvr := schema.GroupVersionResource{Group: g, Version: v, Resource: r}
					kinds, err := a.mapper.KindsFor(gvr)
					if err != nil {
						continue
					}
					for _, k := range kinds {
						if k == gvk {
							return gvr, true
						}
					}
				}
			}
		}
	}
	return schema.GroupVersionResource{}, false
}

func cost(budget, remaining int64) int64 {
	if remaining < 0 {
		return budget
	}
	return budget - remaining
}

func (a *analyser) actual(p *admissionregistrationv1.ValidatingAdmissionPolicy, pr *policyReport, object runtime.Object, gvk schema.GroupVersionKind, params *unstructured.Unstructured, validationAt, messageAt []int) *actualReport {
	out := &actualReport{}
	gvr, ok := a.matches(p, gvk)
	if !ok {
		return out
	}
	if p.Spec.ParamKind != nil && params == nil {
		out.Error = "no params object for the binding's paramRef in the stream"
		return out
	}
	accessor, err := meta.Accessor(object)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	attrs := admission.NewAttributesRecord(object, nil, gvk, accessor.GetNamespace(), accessor.GetName(), gvr, "",
		admission.Create, &metav1.CreateOptions{}, false, &user.DefaultInfo{Name: "celcost"})
	versioned := &admission.VersionedAttributes{Attributes: attrs, VersionedObject: object, VersionedKind: gvk}
	request := plugincel.CreateAdmissionRequest(attrs, metav1.GroupVersionResource(gvr), metav1.GroupVersionKind(gvk))
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: accessor.GetNamespace()}}
	var versionedParams runtime.Object
	if params != nil {
		versionedParams = params
	}
	hasParams := p.Spec.ParamKind != nil
	withAuthz := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true}
	noAuthz := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: false}
	bindings := plugincel.OptionalVariableBindings{VersionedParams: versionedParams}
	ctx := context.Background()

	// A compiler as the validating admission plugin builds one per policy.
	newCompiler := func() (*plugincel.CompositedCompiler, error) {
		c, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
		if err != nil {
			return nil, err
		}
		vars := make([]plugincel.NamedExpressionAccessor, len(p.Spec.Variables))
		for i, v := range p.Spec.Variables {
			vars[i] = &validating.Variable{Name: v.Name, Expression: v.Expression}
		}
		c.CompileAndStoreVariables(vars, withAuthz, environment.StoredExpressions)
		return c, nil
	}
	compiler, err := newCompiler()
	if err != nil {
		out.Error = err.Error()
		return out
	}
	check := func(e plugincel.ConditionEvaluator) bool {
		if errs := e.CompilationErrors(); len(errs) > 0 {
			pr.CompileError = errs[0].Error()
			out.Error = "compilation: " + errs[0].Error()
			return false
		}
		return true
	}

	if len(p.Spec.MatchConditions) > 0 {
		accessors := make([]plugincel.ExpressionAccessor, len(p.Spec.MatchConditions))
		for i := range p.Spec.MatchConditions {
			accessors[i] = (*matchconditions.MatchCondition)(&p.Spec.MatchConditions[i])
		}
		m := compiler.CompileCondition(accessors, withAuthz, environment.StoredExpressions)
		if !check(m) {
			return out
		}
		results, remaining, err := m.ForInput(ctx, versioned, request, bindings, namespace, celconfig.RuntimeCELCostBudgetMatchConditions)
		out.MatchConditions = cost(celconfig.RuntimeCELCostBudgetMatchConditions, remaining)
		if err != nil {
			out.Error = "matchConditions: " + err.Error()
			return out
		}
		for _, r := range results {
			if r.Error == nil && r.EvalResult != nil && r.EvalResult.Value() == false {
				return out // not matched: no validation runs
			}
		}
	}
	out.Matched = true

	validations := make([]plugincel.ExpressionAccessor, len(p.Spec.Validations))
	messages := make([]plugincel.ExpressionAccessor, len(p.Spec.Validations))
	for i, v := range p.Spec.Validations {
		validations[i] = &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason}
		if v.MessageExpression != "" {
			messages[i] = &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
		}
	}
	vf := compiler.CompileCondition(validations, withAuthz, environment.StoredExpressions)
	mf := compiler.CompileCondition(messages, noAuthz, environment.StoredExpressions)
	if !check(vf) || !check(mf) {
		return out
	}
	results, remaining, err := vf.ForInput(ctx, versioned, request, bindings, namespace, celconfig.RuntimeCELCostBudget)
	out.Validations = cost(celconfig.RuntimeCELCostBudget, remaining)
	if err != nil {
		out.Error = "validations: " + err.Error()
		out.Total = out.Validations
		return out // WithinBudget stays false
	}
	out.Admitted = true
	costError := false
	for i, r := range results {
		if r.Error != nil || r.EvalResult == nil || r.EvalResult.Value() != true {
			out.Admitted = false
		}
		if r.Error != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("spec.validations[%d].expression: %v", i, r.Error))
			costError = costError || isCostError(r.Error)
		}
		pr.Expressions[validationAt[i]].Result = resultText(r)
	}
	left := remaining
	mresults, mremaining, err := mf.ForInput(ctx, versioned, request, plugincel.OptionalVariableBindings{VersionedParams: versionedParams}, namespace, left)
	out.MessageExpressions = cost(left, mremaining)
	if err != nil {
		out.Error = "messageExpressions: " + err.Error()
	}
	for i, r := range mresults {
		if messageAt[i] >= 0 {
			pr.Expressions[messageAt[i]].Result = resultText(r)
		}
		if r.Error != nil && r.ExpressionAccessor != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("spec.validations[%d].messageExpression: %v", i, r.Error))
			costError = costError || isCostError(r.Error)
		}
	}
	out.Total = out.Validations + out.MessageExpressions
	out.WithinBudget = err == nil && !costError && out.Total <= celconfig.RuntimeCELCostBudget

	if len(p.Spec.AuditAnnotations) > 0 {
		accessors := make([]plugincel.ExpressionAccessor, len(p.Spec.AuditAnnotations))
		for i, an := range p.Spec.AuditAnnotations {
			accessors[i] = &validating.AuditAnnotationCondition{Key: an.Key, ValueExpression: an.ValueExpression}
		}
		af := compiler.CompileCondition(accessors, noAuthz, environment.StoredExpressions)
		if check(af) {
			_, aremaining, err := af.ForInput(ctx, versioned, request, bindings, namespace, celconfig.RuntimeCELCostBudget)
			out.AuditAnnotations = cost(celconfig.RuntimeCELCostBudget, aremaining)
			if err != nil {
				out.Error = "auditAnnotations: " + err.Error()
			}
		}
	}

	// Each validation and messageExpression alone (a fresh composition context: the variables it
	// reads are evaluated and charged to it).
	alone := func(at int, accessor plugincel.ExpressionAccessor, decls plugincel.OptionalVariableDeclarations) {
		c, err := newCompiler()
		if err != nil {
			return
		}
		f := c.CompileCondition([]plugincel.ExpressionAccessor{accessor}, decls, environment.StoredExpressions)
		_, rem, err := f.ForInput(ctx, versioned, request, bindings, namespace, celconfig.RuntimeCELCostBudget)
		spent := cost(celconfig.RuntimeCELCostBudget, rem)
		pr.Expressions[at].Actual = &spent
		if err != nil && pr.Expressions[at].Error == "" {
			pr.Expressions[at].Error = err.Error()
		}
	}
	for i := range p.Spec.Validations {
		alone(validationAt[i], validations[i], withAuthz)
		if messageAt[i] >= 0 {
			alone(messageAt[i], messages[i], noAuthz)
		}
	}
	return out
}

// isCostError: an evaluation stopped by the per-expression limit (cel.CostLimit) or the budget.
func isCostError(err error) bool {
	text := err.Error()
	return errors.Is(err, apiservercel.ErrOutOfBudget) || strings.Contains(text, "cost limit exceeded") || strings.Contains(text, "cost budget")
}

func resultText(r plugincel.EvaluationResult) string {
	if r.Error != nil {
		return "error: " + r.Error.Error()
	}
	if r.EvalResult == nil {
		return ""
	}
	return fmt.Sprint(r.EvalResult.Value())
}
