-- Pandoc filter: an executed notebook (read with `-f ipynb`) becomes one section of the report
-- or of the supplement (report/build.py says which with `-M part=...`).
--
-- * Code inputs are dropped; their outputs stay, in order. A cell tagged `report-skip` is
--   dropped whole, from both documents (e.g. the `answers` cell, whose record the builder
--   reads separately).
-- * `-M part=report` (notebooks 01-04 in the report): cells tagged `supplement` are left out.
--   `-M part=further` (the same notebooks in the supplement): only the cells tagged
--   `supplement` are kept, under one level-1 heading made from the notebook's title
--   ("Q1 — Low-rank ..." becomes "Q1, further: Low-rank ..."); none tagged, no section.
--   `-M part=supplement` (notebooks 00, 05-07, whole in the supplement): every cell but
--   `report-skip` ones.
-- * The stdout of one cell becomes one `output` code block (the kernel splits it arbitrarily);
--   stderr (warnings, progress bars) is left out.
-- * Figures print at their own size (report/build.py puts the width, in inches, in the
--   output's metadata), at most the text width, so a matplotlib font size is the printed
--   size for any figure up to the text width. Each figure gets alt text for the HTML: the
--   heading it comes under ("Figure: Loss curve, Q1 — ...").
-- * Heading ids get the notebook's name as prefix (`nb-01-...`): sections share titles such as
--   "What this shows".
-- * A line under the notebook's title names the notebook file.
--
-- Set the notebook's file name with `-M notebook=01_sgd_factorisation.ipynb`.

local function has_tag(cell, wanted)
  local raw = cell.attributes.tags
  if not raw then
    return false
  end
  -- The ipynb reader stores the tags as the JSON text of the list.
  for _, tag in ipairs(pandoc.json.decode(raw)) do
    if tag == wanted then
      return true
    end
  end
  return false
end

-- A display output: its figure at full width, without the figure's text/plain twin
-- ("<Figure size ...>", which the reader keeps next to the image when writing JSON).
local function display(blocks, alt)
  local has_image = false
  blocks = blocks:walk({
    -- Markdown a notebook generated (display_markdown(..., raw=True)) reaches us raw: parse it.
    RawBlock = function(raw)
      if raw.format == "markdown" then
        return pandoc.read(raw.text, "markdown").blocks
      elseif raw.format == "html" and raw.text:find("<table") then
        -- a DataFrame: its HTML table becomes a real table in both the PDF and the HTML
        return pandoc.read(raw.text, "html").blocks
      end
    end,
    Image = function(img)
      has_image = true
      -- report/build.py wrote the figure's printed width ("4.71in", or "100%" when wider
      -- than the text) into the output's metadata, which the ipynb reader made this attribute.
      img.attributes.width = img.attributes.width or "100%"
      img.attributes.height = nil
      if #img.caption == 0 and alt ~= "" then
        img.caption = pandoc.Inlines({ pandoc.Str(alt) })
      end
      return img
    end,
  })
  if has_image then
    blocks = blocks:filter(function(b) return b.t ~= "CodeBlock" end)
  end
  return blocks
end

-- The outputs of one code cell, its stdout merged into one block.
local function outputs(cell, alt)
  local out = pandoc.Blocks({})
  local stdout = {}
  local function flush()
    if #stdout > 0 then
      out:insert(pandoc.CodeBlock(table.concat(stdout, "\n"), pandoc.Attr("", { "output" })))
      stdout = {}
    end
  end
  for _, block in ipairs(cell.content) do
    if block.t == "Div" and block.classes:includes("output") then
      if block.classes:includes("stream") then
        if block.classes:includes("stdout") then
          for _, inner in ipairs(block.content) do
            if inner.t == "CodeBlock" then
              stdout[#stdout + 1] = inner.text:gsub("\n+$", "")
            end
          end
        end
      else
        flush()
        out:extend(display(block.content, alt))
      end
    end
    -- anything else in a code cell is its source: dropped
  end
  flush()
  return out
end

-- (Not from the cell's metadata: the stored notebooks keep only `tags` there.)
local function cell_alt(heading, title)
  if heading ~= "" and heading ~= title then
    return "Figure: " .. heading .. " (" .. title .. ")"
  end
  return "Figure: " .. title
end

-- "Q1 — Low-rank factorisation ..." -> "Q1, further: Low-rank factorisation ..."
local function further_title(title)
  for _, dash in ipairs({ "—", "–", ":", "-" }) do
    local q, rest = title:match("^(Q%d+)%s*" .. dash .. "%s*(.*)$")
    if q then
      return q .. ", further: " .. rest
    end
  end
  return title .. ", further"
end

function Pandoc(doc)
  local name = pandoc.utils.stringify(doc.meta.notebook or "")
  local part = pandoc.utils.stringify(doc.meta.part or "report")
  if part ~= "report" and part ~= "further" and part ~= "supplement" then
    error("notebook.lua: -M part must be report, further or supplement, not " .. part)
  end
  local prefix = "nb-" .. (name:match("^(%d+)") or name:gsub("%.ipynb$", "")) .. "-"
  if part == "further" then
    prefix = prefix .. "further-"
  end

  local title, heading = "", ""
  local body = pandoc.Blocks({})
  for _, block in ipairs(doc.blocks) do
    if block.t == "Div" and block.classes:includes("cell") then
      -- headings are tracked in every cell, kept or not: they name the figures below them
      local cell_heading = heading
      for _, inner in ipairs(block.content) do
        if inner.t == "Header" then
          heading = pandoc.utils.stringify(inner)
          cell_heading = heading
          if inner.level == 1 and title == "" then
            title = heading
          end
        end
      end
      local tagged = has_tag(block, "supplement")
      local keep = not has_tag(block, "report-skip")
        and ((part == "report" and not tagged) or (part == "further" and tagged) or part == "supplement")
      if keep then
        if block.classes:includes("code") then
          body:extend(outputs(block, cell_alt(cell_heading, title)))
        else
          body:extend(block.content)
        end
      end
    elseif part ~= "further" then
      body:insert(block)
    end
  end
  if part == "further" then
    if #body == 0 then
      return pandoc.Pandoc({}, pandoc.Meta({}))
    end
    body:insert(1, pandoc.Header(1, pandoc.Inlines(further_title(title))))
  end

  local titled = false
  local result = pandoc.Blocks({})
  for _, block in ipairs(body) do
    if block.t == "Header" then
      if block.identifier == "" then
        block.identifier = pandoc.utils.stringify(block):lower():gsub("[^%w]+", "-")
      end
      block.identifier = prefix .. block.identifier
    end
    result:insert(block)
    if block.t == "Header" and block.level == 1 and not titled then
      titled = true
      local what = part == "further" and "the parts the report leaves out; code cells omitted, their outputs shown in order."
        or "code cells omitted, their outputs shown in order."
      local line = pandoc.Inlines({ pandoc.Str("Notebook"), pandoc.Space(), pandoc.Code(name),
        pandoc.Str(part == "further" and ":" or ";"), pandoc.Space() })
      line:extend(pandoc.Inlines(what))
      result:insert(pandoc.Div(pandoc.Para(line), pandoc.Attr("", { "nb-source" })))
    end
  end
  -- The notebook's own metadata (kernel spec, ...) is not the report's.
  return pandoc.Pandoc(result, pandoc.Meta({}))
end
