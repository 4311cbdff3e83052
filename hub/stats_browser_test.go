package hub_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/internal/testutil"
)

// statsPageScript opens the live page in headless Chromium with the admin
// token in the fragment, waits for the connection table to list "ann" in
// "lobby" and for both plots to draw, and reports any script error or CSP
// violation. It prints one JSON line.
const statsPageScript = `'use strict';
const fs = require('fs'), os = require('os'), path = require('path');
const { chromium } = require('playwright-core');
(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-stats-'));
  const problems = [];
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    const page = await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.goto(process.argv[2]);
    await page.locator('#conns tr', { hasText: 'ann' }).waitFor({ timeout: 15000 });
    const row = await page.locator('#conns tr', { hasText: 'ann' }).innerText();
    // Two polls make a rate sample; wait for ink on both canvases.
    await page.waitForFunction(() => ['plot-msgs', 'plot-bytes'].every((id) => {
      const c = document.getElementById(id);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
      return false;
    }), null, { timeout: 15000 });
    const total = await page.locator('#t-conns').innerText();
    process.stdout.write(JSON.stringify({ ok: problems.length === 0, row, total, problems }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(e), problems }) + '\n');
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})();
`

// The live page runs in Chromium under the page's CSP, authenticates with
// the admin token and lists the hub's connections with their plots.
func TestBrowserStatsPage(t *testing.T) {
	chromium := testutil.Chromium(t)
	node, dir := testutil.Node(t)
	ts := startServer(t, &hub.ServerConfig{AdminToken: "peek"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := rawClient(t, ctx, ts.url, "ann")
	defer c.CloseNow()
	script := filepath.Join(t.TempDir(), "stats.js")
	if err := os.WriteFile(script, []byte(statsPageScript), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, script, ts.url+"/stats#token=peek")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"), "CHROMIUM="+chromium,
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	cmd.WaitDelay = 5 * time.Second
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var res struct {
		OK       bool     `json:"ok"`
		Error    string   `json:"error"`
		Row      string   `json:"row"`
		Total    string   `json:"total"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !res.OK {
		t.Fatalf("stats page: %s %q", res.Error, res.Problems)
	}
	for _, want := range []string{"socket.io", "127.0.0.1:", "ann", "lobby"} {
		if !strings.Contains(res.Row, want) {
			t.Errorf("row %q lacks %q", res.Row, want)
		}
	}
	if res.Total != "1" {
		t.Errorf("total connections shown: %q", res.Total)
	}
}
