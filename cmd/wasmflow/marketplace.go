package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/client"
	"github.com/wasmflow/wasmflow/workflow"
)

func newMarketplaceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "marketplace",
		Short: "Find, install and publish node modules in the shared catalog",
		Long: "The marketplace is the catalog every tenant reads. A publisher puts a signed version of its own module " +
			"there (`publish`); a tenant installs it (`install`) with an explicit grant of the capabilities it asks for.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newMarketplaceSearchCmd(), newMarketplaceShowCmd(), newMarketplaceInstallCmd(),
		newMarketplacePublishCmd(), newMarketplaceYankCmd())
	return cmd
}

// splitRef splits owner/name[@version].
func splitRef(ref string, needVersion bool) (name, version string, err error) {
	name, version, _ = strings.Cut(ref, "@")
	if owner, rest, ok := strings.Cut(name, "/"); !ok || owner == "" || rest == "" || strings.Contains(rest, "/") {
		return "", "", fmt.Errorf("%q is not owner/name[@version]", ref)
	}
	if needVersion && version == "" {
		return "", "", fmt.Errorf("%q: give the version, owner/name@1.2.0", ref)
	}
	return name, version, nil
}

func newMarketplaceSearchCmd() *cobra.Command {
	var cf clientFlags
	var p client.MarketplaceSearchParams
	cmd := &cobra.Command{
		Use:   "search [QUERY]",
		Short: "Search the catalog by name and description",
		Long: "Lists the catalog's modules whose name or description matches QUERY (everything without one): " +
			"publisher, newest version not yanked, its signature and the capabilities it asks for.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				p.Query = args[0]
			}
			c, err := cf.newClient()
			if err != nil {
				return err
			}
			page, err := c.MarketplaceSearch(cmd.Context(), &p)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), page)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "NAME\tVERSION\tSIGNATURE\tASKS FOR\tDESCRIPTION")
			for _, e := range page.Items {
				v, ok := e.Version("")
				if !ok {
					_, _ = fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\n", e.Name, oneLine(e.Description))
					continue
				}
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, v.Version, signatureText(v.Signature), capabilitiesText(v.Capabilities), oneLine(e.Description))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(page.Items) == 0 {
				say(cmd, "no modules found")
			}
			if page.NextCursor != "" {
				say(cmd, "more: --cursor %s", page.NextCursor)
			}
			return nil
		},
	}
	addClientFlags(cmd, &cf)
	cmd.Flags().StringVar(&p.Cursor, "cursor", "", "the page after this cursor (printed under the previous page)")
	cmd.Flags().IntVar(&p.Limit, "limit", 0, "modules per page (default: the server's)")
	return cmd
}

func newMarketplaceShowCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "show OWNER/NAME",
		Short: "Show a catalog module with every version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := splitRef(args[0], false)
			if err != nil {
				return err
			}
			c, err := cf.newClient()
			if err != nil {
				return err
			}
			e, err := c.MarketplaceGet(cmd.Context(), name)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), e)
			}
			out := cmd.OutOrStdout()
			_, _ = fmt.Fprintf(out, "%s by %s\n", e.Name, e.Publisher)
			if e.Description != "" {
				_, _ = fmt.Fprintf(out, "%s\n", strings.Join(strings.Fields(e.Description), " "))
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "VERSION\tSIGNATURE\tASKS FOR\tYANKED\tDIGEST")
			for _, v := range slices.Backward(e.Versions) {
				yanked := "no"
				if v.Yanked {
					yanked = cmp.Or(oneLine(v.YankReason), "yes")
				}
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Version, signatureText(v.Signature), capabilitiesText(v.Capabilities), yanked, v.Digest)
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &cf)
	return cmd
}

// grantFlags are an install's grant as flags.
type grantFlags struct {
	hosts, methods, secrets []string
	requested               bool
}

func (g *grantFlags) given() bool {
	return len(g.hosts) > 0 || len(g.methods) > 0 || len(g.secrets) > 0
}

// grant builds the grant for what the version asks: all of it with
// --grant-requested, else what the flags say. Methods default to those
// asked for, since no methods would mean every method.
func (g *grantFlags) grant(asked workflow.Capabilities) (workflow.Capabilities, error) {
	if g.requested {
		if g.given() {
			return workflow.Capabilities{}, errors.New("give --grant-requested or --grant-http-hosts/--grant-http-methods/--grant-secrets, not both")
		}
		return asked, nil
	}
	var grant workflow.Capabilities
	if len(g.hosts) > 0 || len(g.methods) > 0 {
		grant.HTTP = &workflow.HTTPCapability{Hosts: g.hosts, Methods: g.methods}
		if len(g.methods) == 0 && asked.HTTP != nil {
			grant.HTTP.Methods = asked.HTTP.Methods
		}
	}
	grant.Secrets = g.secrets
	return grant, nil
}

func asksNothing(c workflow.Capabilities) bool { return c.HTTP == nil && len(c.Secrets) == 0 }

func newMarketplaceInstallCmd() *cobra.Command {
	var cf clientFlags
	var g grantFlags
	cmd := &cobra.Command{
		Use:   "install OWNER/NAME[@VERSION]",
		Short: "Install a catalog module into your tenant, granting the capabilities it asks for",
		Long: "Shows what the version (default: the newest not yanked) asks for and installs it with the grant you give: " +
			"--grant-requested grants exactly what it asks for; --grant-http-hosts, --grant-http-methods and --grant-secrets " +
			"grant part of it (fewer hosts, say). A module that asks for something is not installed without a grant. " +
			"Installing a newer version that asks for more needs a grant of the more.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, err := splitRef(args[0], false)
			if err != nil {
				return err
			}
			c, err := cf.newClient()
			if err != nil {
				return err
			}
			e, err := c.MarketplaceGet(cmd.Context(), name)
			if err != nil {
				return err
			}
			v, ok := e.Version(version)
			if !ok {
				if version == "" {
					return fmt.Errorf("%s has no version that is not yanked", name)
				}
				return fmt.Errorf("%s has no published version %s", name, version)
			}
			say(cmd, "%s@%s by %s, signature %s, asks for %s", e.Name, v.Version, e.Publisher, signatureText(v.Signature), capabilitiesText(v.Capabilities))
			grant, err := g.grant(v.Capabilities)
			if err != nil {
				return err
			}
			if !asksNothing(v.Capabilities) && !g.requested && !g.given() {
				return fmt.Errorf("not installed: %s@%s asks for %s; grant it with --grant-requested, or part of it with "+
					"--grant-http-hosts, --grant-http-methods and --grant-secrets", e.Name, v.Version, capabilitiesText(v.Capabilities))
			}
			in, err := c.MarketplaceInstall(cmd.Context(), &client.InstallParams{Name: name, Version: v.Version, Grant: grant})
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), in)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "installed %s@%s %s\ngranted: %s\n", in.Name, in.Version, in.Digest, capabilitiesText(in.Grant))
			if err == nil && !in.GrantCovers {
				say(cmd, "warning: the grant does not cover what %s@%s asks for: its runs are refused until it is installed with a new grant", in.Name, in.Version)
			}
			return err
		},
	}
	addClientFlags(cmd, &cf)
	cmd.Flags().StringSliceVar(&g.hosts, "grant-http-hosts", nil, "grant HTTP to these hosts (some of those asked for)")
	cmd.Flags().StringSliceVar(&g.methods, "grant-http-methods", nil, "grant these HTTP methods (default: those asked for)")
	cmd.Flags().StringSliceVar(&g.secrets, "grant-secrets", nil, "grant reading these secret names")
	cmd.Flags().BoolVar(&g.requested, "grant-requested", false, "grant exactly what the version asks for")
	return cmd
}

func newMarketplacePublishCmd() *cobra.Command {
	var cf clientFlags
	var description string
	cmd := &cobra.Command{
		Use:   "publish OWNER/NAME@VERSION",
		Short: "Publish a version of your module into the shared catalog",
		Long: "The version must be one your tenant uploaded (`wasmflow node push`), signed by a publisher your tenant owns. " +
			"--description replaces the catalog entry's description (default: the manifest's).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, err := splitRef(args[0], true)
			if err != nil {
				return err
			}
			c, err := cf.newClient()
			if err != nil {
				return err
			}
			e, err := c.MarketplacePublish(cmd.Context(), &client.PublishParams{Name: name, Version: version, Description: description})
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), e)
			}
			v, _ := e.Version(version)
			if v == nil {
				v = &client.CatalogVersion{Version: version}
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "published %s@%s by %s, signature %s, asks for %s\n",
				e.Name, v.Version, e.Publisher, signatureText(v.Signature), capabilitiesText(v.Capabilities))
			return err
		},
	}
	addClientFlags(cmd, &cf)
	cmd.Flags().StringVar(&description, "description", "", "the catalog entry's description")
	return cmd
}

func newMarketplaceYankCmd() *cobra.Command {
	var cf clientFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "yank OWNER/NAME@VERSION --reason TEXT",
		Short: "Withdraw a published version: new runs of it stop",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, err := splitRef(args[0], true)
			if err != nil {
				return err
			}
			c, err := cf.newClient()
			if err != nil {
				return err
			}
			if err := c.MarketplaceYank(cmd.Context(), name, version, reason); err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"name": name, "version": version, "yanked": true, "reason": reason})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "yanked %s@%s\n", name, version)
			return err
		},
	}
	addClientFlags(cmd, &cf)
	cmd.Flags().StringVar(&reason, "reason", "", "why, shown to those who installed it (required)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// capabilitiesText is "http GET,POST to a.com, *.b.com; secrets token" or
// "nothing".
func capabilitiesText(c workflow.Capabilities) string {
	var parts []string
	if c.HTTP != nil {
		methods := "any method"
		if len(c.HTTP.Methods) > 0 {
			methods = strings.Join(c.HTTP.Methods, ",")
		}
		parts = append(parts, "http "+methods+" to "+strings.Join(c.HTTP.Hosts, ", "))
	}
	if len(c.Secrets) > 0 {
		parts = append(parts, "secrets "+strings.Join(c.Secrets, ", "))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

func signatureText(s client.SignatureStatus) string {
	switch {
	case s.Status == "":
		return "-"
	case s.KeyID != "":
		return s.Status + " (" + s.KeyID + ")"
	}
	return s.Status
}

// oneLine keeps a description on its table row.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		return string(r[:79]) + "…"
	}
	return s
}
