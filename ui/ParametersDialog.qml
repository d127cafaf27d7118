// A finished image's recipe, as its PNG carries it (A1111 `parameters`).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Dialog {
    id: root

    property string parameters: ""

    title: qsTr("Parameters")
    modal: true
    standardButtons: Dialog.Close
    width: Math.min(560, parent ? parent.width - 80 : 560)
    anchors.centerIn: parent

    ColumnLayout {
        anchors.fill: parent
        spacing: 8
        ScrollView {
            Layout.fillWidth: true
            Layout.preferredHeight: Math.min(260, area.implicitHeight + 8)
            TextArea {
                id: area
                text: root.parameters
                readOnly: true
                wrapMode: TextEdit.Wrap
                selectByMouse: true
                font.family: "monospace"
            }
        }
        Button {
            Layout.alignment: Qt.AlignRight
            text: qsTr("Copy")
            icon.source: "qrc:/daub/icons/copy.svg"
            icon.color: Theme.text
            onClicked: {
                area.selectAll()
                area.copy()
                area.deselect()
            }
        }
    }
}
