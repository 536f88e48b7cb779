"use client";

import { BarController, BarElement, CategoryScale, Chart, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip } from "chart.js";
import { Chart as ReactChart } from "react-chartjs-2";
import type { SalesBucket } from "@/lib/api";
import { salesSeries } from "@/lib/dashboard";
import { money } from "@/lib/format";

// Only what this chart draws (Chart.js is tree-shaken by registration).
Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend);

/**
 * Orders (bars, left axis) and net sales (line, right axis) per day. The canvas is one image to a
 * screen reader, labelled with the totals; the figures are in the table below it.
 */
export default function SalesChart({ items, currency = "USD", summary }: { items: SalesBucket[]; currency?: string; summary: string }) {
  const s = salesSeries(items);
  return (
    <div className="chart-box">
      <ReactChart
        type="bar"
        role="img"
        aria-label={summary}
        data-testid="sales-chart"
        data={{
          labels: s.labels,
          datasets: [
            { type: "bar", label: "Orders", data: s.orders, backgroundColor: "#8fb3f0", borderColor: "#0b57d0", borderWidth: 1, yAxisID: "orders", order: 2 },
            {
              type: "line",
              label: `Net sales (${currency})`,
              data: s.net,
              borderColor: "#1e6b2f",
              backgroundColor: "#1e6b2f",
              pointRadius: 2,
              tension: 0.2,
              yAxisID: "net",
              order: 1,
            },
          ],
        }}
        options={{
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          scales: {
            orders: { type: "linear", position: "left", beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "Orders" } },
            net: {
              type: "linear",
              position: "right",
              beginAtZero: true,
              grid: { drawOnChartArea: false },
              title: { display: true, text: "Net sales" },
              ticks: { callback: (v) => money(Math.round(Number(v) * 100), currency).replace(/\.00$/, "") },
            },
            x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } },
          },
          plugins: {
            legend: { position: "bottom" },
            tooltip: {
              callbacks: {
                label: (ctx) => (ctx.dataset.yAxisID === "net" ? `Net sales: ${money(Math.round(Number(ctx.parsed.y) * 100), currency)}` : `Orders: ${ctx.parsed.y}`),
              },
            },
          },
        }}
      />
    </div>
  );
}
