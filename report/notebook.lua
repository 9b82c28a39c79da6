-- Pandoc filter: an executed notebook (read with `-f ipynb`) becomes one section of the report.
--
-- * Code inputs are dropped; their outputs stay, in order. A cell tagged `report-skip` is
--   dropped whole (e.g. the `answers` cell, whose record the builder reads separately).
-- * The stdout of one cell becomes one `output` code block (the kernel splits it arbitrarily);
--   stderr (warnings, progress bars) is left out.
-- * Figures fill the text width.
-- * Heading ids get the notebook's name as prefix (`nb-01-...`): sections share titles such as
--   "What this shows", and the Typst template starts a page at each `nb-` level-1 heading.
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
local function display(blocks)
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
      img.attributes.width = "100%"
      return img
    end,
  })
  if has_image then
    blocks = blocks:filter(function(b) return b.t ~= "CodeBlock" end)
  end
  return blocks
end

-- The outputs of one code cell, its stdout merged into one block.
local function outputs(cell)
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
        out:extend(display(block.content))
      end
    end
    -- anything else in a code cell is its source: dropped
  end
  flush()
  return out
end

function Pandoc(doc)
  local name = pandoc.utils.stringify(doc.meta.notebook or "")
  local prefix = "nb-" .. (name:match("^(%d+)") or name:gsub("%.ipynb$", "")) .. "-"
  local body = pandoc.Blocks({})
  for _, block in ipairs(doc.blocks) do
    if block.t == "Div" and block.classes:includes("cell") then
      if not has_tag(block, "report-skip") then
        if block.classes:includes("code") then
          body:extend(outputs(block))
        else
          body:extend(block.content)
        end
      end
    else
      body:insert(block)
    end
  end

  local titled = false
  local result = pandoc.Blocks({})
  for _, block in ipairs(body) do
    if block.t == "Header" then
      block.identifier = prefix .. block.identifier
    end
    result:insert(block)
    if block.t == "Header" and block.level == 1 and not titled then
      titled = true
      result:insert(pandoc.Div(
        pandoc.Para({ pandoc.Str("Notebook"), pandoc.Space(), pandoc.Code(name), pandoc.Str(";"), pandoc.Space(),
          pandoc.Str("code cells omitted, their outputs shown in order.") }),
        pandoc.Attr("", { "nb-source" })))
    end
  end
  -- The notebook's own metadata (kernel spec, ...) is not the report's.
  return pandoc.Pandoc(result, pandoc.Meta({}))
end
